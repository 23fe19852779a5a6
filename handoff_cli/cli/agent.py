"""`handoff status`, `wait` and `close`: the agent's side of a handoff, as JSON.

An agent polls or blocks for the owner's decision, then records that it resumed.
"""

from __future__ import annotations

import typer

from . import complete
from .app import app, current_workspace, report_hooks
from .sync import PUSH_HELP, written


@app.command()
def status(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., metavar="RUNID", help="The packet's runId (or its file).",
                                 autocompletion=complete.run_ids),
) -> None:
    """Print the status, decision, chosen option (label and risk) and next action as JSON."""
    from ..agent import status as packet_status
    from ..textsafe import safe_json

    typer.echo(safe_json(packet_status(current_workspace(ctx), run_id).as_dict()))


@app.command()
def wait(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., metavar="RUNID", help="The packet's runId (or its file).",
                                 autocompletion=complete.run_ids),
    timeout: float | None = typer.Option(
        None, "--timeout", "-t", metavar="SECONDS", min=0,
        help="Give up after SECONDS with exit 124 (default: wait forever; 0: check once)."),
    pull: bool = typer.Option(False, "--pull", help="Fetch the shared git branch first and "
                              "then every few seconds (backing off to a minute), so that a "
                              "decision pushed from another machine arrives."),
) -> None:
    """Block until the packet is settled (decided, returned, withdrawn, closed, resolved) and
    print its status as JSON; on timeout print the status too and exit 124."""
    import math

    from ..agent import wait as wait_for
    from ..errors import UsageError, WaitTimeout
    from ..textsafe import safe_json

    if timeout is not None and math.isnan(timeout):
        raise UsageError("--timeout must be a number of seconds, not nan")

    workspace = current_workspace(ctx)
    fetch = None
    if pull:
        from ..gitsync import pull as pull_branch

        def fetch() -> object:
            return pull_branch(workspace)

    try:
        settled = wait_for(workspace, run_id, timeout, pull=fetch)
    except WaitTimeout as exc:
        if exc.status is not None:  # the agent parses stdout either way
            typer.echo(safe_json(exc.status.as_dict()))
        raise
    typer.echo(safe_json(settled.as_dict()))


@app.command()
def close(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., metavar="RUNID", help="The packet's runId (or its file).",
                                 autocompletion=complete.run_ids),
    outcome: str = typer.Option(..., "--outcome", metavar="TEXT",
                                help="What the agent did after the decision."),
    as_: str | None = typer.Option(None, "--as", help="Who closes it (history)."),
    push: bool | None = typer.Option(None, "--push/--no-push", help=PUSH_HELP),
) -> None:
    """Record that the agent resumed after the decision (status 'closed')."""
    from ..api import resolve_identity
    from ..decisions import close as close_packet
    from ..textsafe import safe_text

    workspace = current_workspace(ctx)
    identity = resolve_identity(as_)
    done = written(workspace, push, lambda: close_packet(workspace, run_id, outcome, identity))
    typer.echo(safe_text(f"{done.run_id}: closed"))
    report_hooks(done.hook_problems)
