"""`handoff route`, `handoff brief` and `handoff stats`: the runbook driving the queue."""

from __future__ import annotations

from pathlib import Path

import typer

from ..textsafe import safe_json
from . import complete
from .app import app, check_choice, current_workspace, notice
from .sync import written


@app.command("route")
def route_command(
    ctx: typer.Context,
    paths: list[Path] | None = typer.Argument(
        None, metavar="[PATH...]", help="Packet files or folders (default: packets/)."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Show the changes; write nothing."),
    escalate: bool = typer.Option(False, "--escalate", help="Also hand overdue open packets to "
                                  "the owner's escalatesTo role."),
    as_: str | None = typer.Option(None, "--as", metavar="EMAIL",
                                    help="Who routes (recorded in history)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    push: bool | None = typer.Option(None, "--push/--no-push", help="Fetch and rebase first, "
                                     "then commit only the routed packets and push them "
                                     "(default: git.push in handoff.yaml)."),
) -> None:
    """Set or repair ownerRole and dueBy from the runbook; move failures to exceptions/."""
    from ..api import resolve_identity
    from ..render import make_console, route_table
    from ..routing import route_packets

    check_choice(fmt, ("table", "json"), "--format")
    given = list(paths or [])
    workspace = current_workspace(ctx, given[0] if given else None)
    actor = resolve_identity(as_) or "handoff route"
    report = written(workspace, None if dry_run else push,
                     lambda: route_packets(workspace, given, escalate=escalate, dry_run=dry_run,
                                           actor=actor))
    if fmt == "json":
        typer.echo(safe_json(report.as_dict()))
    elif report.changes:
        make_console().print(route_table(report))
    else:
        typer.echo("Nothing to route: every packet matches the runbook.")
    for note in report.notes:
        notice(f"{note.path}: {note.message}")


@app.command("brief")
def brief_command(
    ctx: typer.Context,
    handoff_type: str | None = typer.Argument(None, metavar="[TYPE]",
                                                 help="Only this handoff type.",
                                                 autocompletion=complete.handoff_types),
) -> None:
    """Print the routing rules as Markdown, for an agent's instructions before the run."""
    from ..brief import brief_markdown

    workspace = current_workspace(ctx)
    runbook = workspace.runbook
    typer.echo(brief_markdown(runbook, handoff_type, workspace.relative(runbook.path)), nl=False)


@app.command("stats")
def stats_command(
    ctx: typer.Context,
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """Counts by status, type and owner; time to decision; overdue; returns by missing field."""
    from ..render import make_console, stats_view
    from ..stats import queue_stats

    check_choice(fmt, ("table", "json"), "--format")
    stats = queue_stats(current_workspace(ctx))
    if fmt == "json":
        typer.echo(safe_json(stats.as_dict()))
    else:
        make_console().print(stats_view(stats))
    for warning in stats.warnings:
        notice(f"warning: {warning}")
