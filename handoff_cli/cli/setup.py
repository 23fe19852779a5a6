"""`handoff init`, `demo`, `schema` and `rules`."""

from __future__ import annotations

from pathlib import Path

import typer

from .app import app


@app.command()
def init(
    directory: Path = typer.Argument(Path("."), metavar="[DIR]",
                                     help="Where to make the workspace."),
) -> None:
    """Scaffold a workspace with the example runbook and templates; never overwrites a file."""
    from ..api import init_workspace

    created = init_workspace(directory)
    for path in created:
        typer.echo(f"created {path}")
    if not created:
        typer.echo(f"{directory}: workspace already complete; nothing to create")
    else:
        typer.echo(f"workspace ready in {directory}; next: handoff new TYPE (see handoff brief)")


@app.command()
def schema(
    ctx: typer.Context,
    runbook: bool = typer.Option(False, "--runbook", help="Print the runbook schema instead."),
    for_workspace: bool = typer.Option(
        False, "--for-workspace",
        help="The packet schema with this workspace's handoff types, owner roles, required "
             "evidence and option labels as enums (for editors)."),
) -> None:
    """Print the packet JSON Schema (works with any JSON Schema tool or editor)."""
    from ..schema import schema_text

    if runbook and for_workspace:
        from ..errors import UsageError

        raise UsageError("--runbook and --for-workspace do not go together")
    if for_workspace:
        from ..schema.workspace import workspace_packet_schema
        from ..textsafe import safe_json
        from .app import current_workspace

        workspace = current_workspace(ctx)
        typer.echo(safe_json(workspace_packet_schema(workspace.runbook)))
        return
    typer.echo(schema_text("runbook" if runbook else "packet"), nl=False)


@app.command()
def rules(
    fmt: str = typer.Option("text", "--format", help="text or json."),
) -> None:
    """List every lint rule: id, name, default severity, fixable, and what it catches."""
    from ..lint.fix import FIXABLE
    from ..lint.registry import RULES
    from ..textsafe import safe_json
    from .app import check_choice

    check_choice(fmt, ("text", "json"), "--format")
    if fmt == "json":
        typer.echo(safe_json([{"id": r.code, "name": r.name, "severity": r.severity,
                               "fixable": r.code in FIXABLE, "summary": r.summary}
                              for r in RULES]))
        return
    for rule in RULES:
        fixable = "fix" if rule.code in FIXABLE else ""
        typer.echo(f"{rule.code}  {rule.name:<26} {rule.severity:<8} {fixable:<4}{rule.summary}")
    typer.echo("\n'fix': 'handoff lint --fix' fixes it where it safely can: "
               + "; ".join(f"{code} {what}" for code, what in FIXABLE.items()))


@app.command()
def demo(
    directory: Path = typer.Argument(Path("handoff-demo"), metavar="[DIR]",
                                     help="Where to make the demo workspace."),
) -> None:
    """Make a demo workspace with the refund example; show the queues and its review view."""
    from ..demo import build_demo
    from ..queue import list_queue
    from ..render import make_console, plain_lines, queue_table, review_view
    from ..review import review

    result = build_demo(directory)
    console = make_console()
    console.print(f"Demo workspace: {directory} ({len(result.packets)} packets, "
                  f"{len(result.exceptions)} in the exception queue)", markup=False)
    workspace = result.workspace
    width = console.width
    console.print(queue_table(list_queue(workspace), "Review queue", width=width))
    console.print(queue_table(list_queue(workspace, exceptions=True), "Exception queue",
                              width=width))
    console.print(f"\n$ handoff show {result.refund_run_id}\n", markup=False)
    console.file.write(plain_lines(console, review_view(review(workspace, result.refund_run_id),
                                                        width=console.width)))
    me = invocation()
    console.print(f"\nNext: cd {directory} && {me} lint\n"
                  f"      {me} decide {result.refund_run_id} --as maria.lopez@example.com",
                  markup=False, soft_wrap=True)  # commands to copy: never broken mid-line


def invocation() -> str:
    """How to run this same handoff from any folder: `handoff` when that is the one on PATH,
    else its full path (a virtual environment that is not activated)."""
    import shlex
    import shutil
    import sys

    argv0 = Path(sys.argv[0])
    if argv0.name == "__main__.py":
        return f"{shlex.quote(sys.executable)} -m handoff_cli"
    found = shutil.which("handoff")
    try:
        if found and Path(found).resolve() == argv0.resolve():
            return "handoff"
        return shlex.quote(str(argv0.resolve())) if argv0.is_file() else "handoff"
    except OSError:
        return "handoff"
