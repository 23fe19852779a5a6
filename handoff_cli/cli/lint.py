"""`handoff lint`: check packets; text, json, github or sarif output; --fix and --diff."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NoReturn

import typer

from ..lint.formats import FORMATS
from .app import app, check_choice, current_workspace, notice


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
    fix: bool = typer.Option(False, "--fix",
                             help="Apply the safe fixes (see 'handoff rules'), then report "
                                  "what remains."),
    diff: bool = typer.Option(False, "--diff",
                              help="Show the fixes as a unified diff; write nothing (exit 1 if "
                                   "there are any)."),
) -> None:
    """Check packets against the schema, the four questions, the runbook and the workspace."""
    from ..entry import LintArgs, lint_outcome

    check_choice(fmt, FORMATS, "--format")
    given = list(paths or [])
    if fix or diff:  # fixes are planned in one workspace: the first PATH's (or the current one)
        _fix_and_report(ctx, given, fmt, exit_zero, quiet, diff)
    explicit = (ctx.find_root().obj or {}).get("workspace") or os.environ.get("HANDOFF_WORKSPACE")
    output, summary, code = lint_outcome(
        LintArgs(given, fmt, exit_zero, quiet, no_cache), explicit or None)
    if output:
        typer.echo(output, nl=False)
    if summary:
        typer.echo(summary, err=True)
    raise typer.Exit(code)


def _fix_and_report(ctx: typer.Context, given: list[Path], fmt: str, exit_zero: bool,
                    quiet: bool, diff: bool) -> NoReturn:
    from ..errors import EXIT_FAILED, EXIT_OK
    from ..lint.formats import format_findings

    workspace = current_workspace(ctx, given[0] if given else None)
    if diff:
        _show_diff(workspace, given, quiet)
    findings = _fix(workspace, given, quiet)
    output = format_findings(findings, fmt)
    if output:
        typer.echo(output, nl=False)
    errors = sum(1 for f in findings if f.severity == "error")
    if fmt == "text" and not quiet:
        warnings = len(findings) - errors
        typer.echo(f"Found {errors} error(s) and {warnings} warning(s)." if findings
                   else "All packets passed.", err=True)
    raise typer.Exit(EXIT_FAILED if errors and not exit_zero else EXIT_OK)


def _show_diff(workspace: Any, paths: list[Path], quiet: bool) -> NoReturn:
    from ..errors import EXIT_FAILED, EXIT_OK
    from ..lint.fix import fix_paths, unified_diff

    report = fix_paths(workspace, paths, write=False)
    for file_fix in report.files:
        typer.echo(unified_diff(file_fix), nl=False)
    if not quiet:
        files = len(report.files)
        typer.echo(f"Would apply {report.fixed} fix(es) in {files} file(s); "
                   "run 'handoff lint --fix' to apply." if files else "Nothing to fix.",
                   err=True)
    raise typer.Exit(EXIT_FAILED if report.files else EXIT_OK)


def _fix(workspace: Any, paths: list[Path], quiet: bool) -> list[Any]:
    from ..lint.fix import fix_paths
    from ..textsafe import safe_text

    report = fix_paths(workspace, paths, write=True)
    for file_fix in report.files:
        if file_fix.note is not None:
            notice(f"{file_fix.shown}: {file_fix.note}")
            continue
        for item in file_fix.fixes:
            old = "missing" if item.old is None else repr(item.old)
            typer.echo(safe_text(f"{file_fix.shown}: fixed {item.rule} {item.key}: {old} -> "
                                 f"{item.new!r} ({item.reason})"), err=True)
    if not quiet:
        files = sum(1 for f in report.files if f.note is None)
        typer.echo(f"Applied {report.fixed} fix(es) in {files} file(s).", err=True)
    return report.remaining
