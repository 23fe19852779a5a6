"""`handoff withdraw`, `resubmit` and `resolve`: the rest of a packet's life after `new`.

The agent withdraws a packet it no longer needs decided, or resubmits one the owner returned;
an operator resolves an item of the exception queue.
"""

from __future__ import annotations

import typer

from .app import app, current_workspace, report_hooks
from .sync import PUSH_HELP, written


@app.command()
def withdraw(
    ctx: typer.Context,
    packet: str = typer.Argument(..., metavar="PACKET", help="A packet file or a runId."),
    reason: str = typer.Option(..., "--reason", metavar="TEXT",
                               help="Why the decision is no longer needed."),
    as_: str | None = typer.Option(None, "--as", metavar="EMAIL",
                                      help="Who withdraws it (default: $HANDOFF_USER, git email)."),
    push: bool | None = typer.Option(None, "--push/--no-push", help=PUSH_HELP),
) -> None:
    """Withdraw an open or returned packet: the agent no longer needs a decision."""
    from ..api import resolve_identity
    from ..lifecycle import withdraw as withdraw_packet
    from ..textsafe import safe_text

    workspace, identity = current_workspace(ctx), resolve_identity(as_)
    done = written(workspace, push,
                   lambda: withdraw_packet(workspace, packet, reason, identity))
    typer.echo(safe_text(f"{done.run_id}: withdrawn"))
    report_hooks(done.hook_problems)


@app.command()
def resubmit(
    ctx: typer.Context,
    packet: str = typer.Argument(..., metavar="PACKET", help="A packet file or a runId."),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                   help="Set a key (VALUE is JSON if it parses, else text)."),
    evidence: list[str] = typer.Option([], "--evidence", metavar="NAME=PATH",
                                       help="Add or replace an evidence file."),
    option: list[str] = typer.Option([], "--option", metavar="LABEL=RISK",
                                     help="Replace the options (repeatable)."),
    from_json: str | None = typer.Option(None, "--from-json", metavar="FILE|-",
                                            help="Keys to set, as a JSON object."),
    body: str | None = typer.Option(None, "--body", metavar="TEXT|-",
                                       help="Replace the narrative (- reads stdin)."),
    as_: str | None = typer.Option(None, "--as", metavar="EMAIL",
                                      help="Who resubmits it (history)."),
    push: bool | None = typer.Option(None, "--push/--no-push", help=PUSH_HELP),
) -> None:
    """After a return: supply what is missing and put the packet back in the queue (status
    open, a fresh due time); refused while a field the owner named is still missing."""
    from ..api import resolve_identity
    from ..lifecycle import resubmit as resubmit_packet
    from ..textsafe import safe_text
    from .packets import packet_input

    workspace = current_workspace(ctx)
    given = packet_input(set_, evidence, option, from_json, body,
                         workspace.settings.max_file_bytes)
    identity = resolve_identity(as_)
    done = written(workspace, push, lambda: resubmit_packet(workspace, packet, given, identity))
    supplied = ", ".join(str(m) for m in done.event.get("supplied", [])) or "nothing named"
    typer.echo(safe_text(f"{done.run_id}: resubmitted (supplied: {supplied}); back in the "
                         "queue"))
    report_hooks(done.hook_problems)


@app.command()
def resolve(
    ctx: typer.Context,
    exception: str = typer.Argument(..., metavar="EXCEPTION",
                                    help="An exception-queue file or its runId."),
    kind: str = typer.Option(..., "--kind", "-k", metavar="KIND",
                             help="fixed, retried or abandoned."),
    note: str = typer.Option(..., "--note", "-n", metavar="TEXT",
                             help="What was done about the failure."),
    as_: str | None = typer.Option(None, "--as", metavar="EMAIL",
                                      help="Who resolves it (default: $HANDOFF_USER, git email)."),
    push: bool | None = typer.Option(None, "--push/--no-push", help=PUSH_HELP),
) -> None:
    """Resolve an item of the exception queue (status resolved) as fixed, retried or
    abandoned."""
    from ..api import resolve_identity
    from ..lifecycle import resolve as resolve_exception
    from ..textsafe import safe_text

    workspace, identity = current_workspace(ctx), resolve_identity(as_)
    done = written(workspace, push,
                   lambda: resolve_exception(workspace, exception, kind, note, identity))
    typer.echo(safe_text(f"{done.run_id}: resolved ({kind})"))
    report_hooks(done.hook_problems)


@app.command()
def edit(
    ctx: typer.Context,
    packet: str = typer.Argument(..., metavar="PACKET", help="A packet file or a runId."),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                   help="Set a key (VALUE is JSON if it parses, else text; "
                                        "KEY.SUB sets one entry of a mapping)."),
    evidence: list[str] = typer.Option([], "--evidence", metavar="NAME=PATH",
                                       help="Add or replace an evidence file."),
    option: list[str] = typer.Option([], "--option", metavar="LABEL=RISK",
                                     help="Replace the options (repeatable)."),
    unset: list[str] = typer.Option([], "--unset", metavar="KEY",
                                    help="Remove a key (repeatable)."),
    from_json: str | None = typer.Option(None, "--from-json", metavar="FILE|-",
                                            help="Keys to set, as a JSON object."),
    body: str | None = typer.Option(None, "--body", metavar="TEXT|-",
                                       help="Replace the narrative (- reads stdin)."),
    as_: str | None = typer.Option(None, "--as", metavar="EMAIL",
                                      help="Who edits it (history; default: $HANDOFF_USER, git "
                                           "email, else agent)."),
    push: bool | None = typer.Option(None, "--push/--no-push", help=PUSH_HELP),
) -> None:
    """Edit an open packet safely: under its lock, refused (exit 3) if another
    writer changed it meanwhile; the keys handoff manages, runId, handoffType and ownerRole
    cannot be set."""
    from ..agentedit import update_packet
    from ..api import resolve_identity
    from ..textsafe import safe_text
    from .packets import packet_input

    workspace = current_workspace(ctx)
    given = packet_input(set_, evidence, option, from_json, body,
                         workspace.settings.max_file_bytes)
    identity = resolve_identity(as_)
    done = written(workspace, push,
                   lambda: update_packet(workspace, packet, given, identity, remove=unset))
    if not done.changed:
        typer.echo(safe_text(f"{done.run_id}: unchanged"))
        return
    what = ", ".join([*done.keys, *(["body"] if done.body else [])])
    typer.echo(safe_text(f"{done.run_id}: edited ({what})"))
