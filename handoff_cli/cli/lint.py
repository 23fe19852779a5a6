"""`handoff lint`: check packets; text, json, github or sarif output."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from ..errors import EXIT_FAILED, EXIT_OK
from .app import app, check_choice, current_workspace


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
    from ..api import lint, lint_by_workspace
    from ..lint.formats import FORMATS, format_findings

    check_choice(fmt, FORMATS, "--format")
    given = list(paths or [])
    explicit = (ctx.find_root().obj or {}).get("workspace") or os.environ.get("HANDOFF_WORKSPACE")
    if given and not explicit:  # each PATH in its own workspace (pre-commit from a repo root)
        findings = lint_by_workspace(given, use_cache=not no_cache)
    else:
        findings = lint(current_workspace(ctx), given, use_cache=not no_cache)
    output = format_findings(findings, fmt)
    if output:
        typer.echo(output, nl=False)
    errors = sum(1 for f in findings if f.severity == "error")
    if fmt == "text" and not quiet:
        warnings = len(findings) - errors
        summary = (f"Found {errors} error(s) and {warnings} warning(s)." if findings
                   else "All packets passed.")
        typer.echo(summary, err=True)
    raise typer.Exit(EXIT_FAILED if errors and not exit_zero else EXIT_OK)
