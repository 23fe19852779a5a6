"""`handoff lint`: check packets; text, json, github or sarif output."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from ..lint.formats import FORMATS
from .app import app, check_choice


@app.command("lint")
def lint_command(
    ctx: typer.Context,
    paths: list[Path] | None = typer.Argument(
        None, metavar="[PATH...]",
        help="Packet files or folders (default: packets/ and exceptions/)."),
    fmt: str = typer.Option("text", "--format", "-f", help="text, json, github or sarif."),
    exit_zero: bool = typer.Option(False, "--exit-zero", help="Exit 0 even when errors are found."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary line on stderr."),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Check every file afresh; neither read nor write the cache."),
) -> None:
    """Check packets against the schema, the four questions, the runbook and the workspace."""
    from ..entry import LintArgs, lint_outcome

    check_choice(fmt, FORMATS, "--format")
    explicit = (ctx.find_root().obj or {}).get("workspace") or os.environ.get("HANDOFF_WORKSPACE")
    output, summary, code = lint_outcome(
        LintArgs(list(paths or []), fmt, exit_zero, quiet, no_cache), explicit or None)
    if output:
        typer.echo(output, nl=False)
    if summary:
        typer.echo(summary, err=True)
    raise typer.Exit(code)
