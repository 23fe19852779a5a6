"""`handoff list`: the review queue or the exception queue."""

from __future__ import annotations

import typer

from ..textsafe import safe_json
from . import complete
from .app import app, check_choice, current_workspace, notice


@app.command("list")
def list_command(
    ctx: typer.Context,
    owner: list[str] | None = typer.Option(
        None, "--owner", metavar="ROLE", help="Only packets owned by ROLE (repeatable).",
        autocompletion=complete.owner_roles),
    mine: bool = typer.Option(False, "--mine", help="Only packets owned by my roles."),
    status: str | None = typer.Option(None, "--status", help="open, decided, returned, "
                                      "withdrawn or closed.", autocompletion=complete.statuses),
    handoff_type: str | None = typer.Option(None, "--type", help="Only this handoff type.",
                                            autocompletion=complete.handoff_types),
    overdue: bool = typer.Option(False, "--overdue", help="Only open packets past dueBy."),
    exceptions: bool = typer.Option(False, "--exceptions", help="Show the exception queue."),
    as_: str | None = typer.Option(None, "--as", metavar="EMAIL", help="Identity for --mine."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Read every packet afresh; neither read nor write the cache."),
) -> None:
    """The queue, sorted by due time: runId, type, owner, status, age, due, trigger."""
    from ..api import resolve_identity
    from ..errors import UsageError
    from ..queue import list_queue
    from ..render import make_console, queue_table

    check_choice(fmt, ("table", "json"), "--format")
    workspace = current_workspace(ctx)
    owners: list[str] | None = list(owner) if owner else None
    if mine:
        identity = resolve_identity(as_)
        if not identity:
            raise UsageError("--mine needs an identity: --as, HANDOFF_USER or git user.email")
        roles = workspace.runbook.roles_of(identity)
        if not roles:
            notice(f"note: {identity} is a member of no role in the runbook")
        owners = [*(owners or []), *roles]
    if not no_cache:
        from ..entry import cache_warning

        warning = cache_warning(workspace.state_dir)
        if warning is not None:
            typer.echo(warning, err=True)
            no_cache = True
    entries = list_queue(workspace, owners=owners, status=status, handoff_type=handoff_type,
                         overdue=overdue, exceptions=exceptions, use_cache=not no_cache)
    if fmt == "json":
        typer.echo(safe_json([e.as_dict() for e in entries]))
        return
    title = "Exception queue" if exceptions else "Review queue"
    console = make_console()
    if not entries:
        console.print(f"{title}: empty", markup=False)
        return
    console.print(queue_table(entries, f"{title} ({len(entries)})", width=console.width))
