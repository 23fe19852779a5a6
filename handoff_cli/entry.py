"""The console-script entry point. `handoff lint [PATH...]` with plain flags (what pre-commit
runs on every commit) and `handoff list --format json` with plain filters (what scripts and
dashboards poll) are parsed and run here without importing Typer, rich or the other commands
(so this module lives outside handoff_cli.cli, whose package imports them all).

Anything else, including --help, global options and unusual spellings, goes to the Typer app,
which runs the same `lint_outcome`; both paths print the same bytes and exit the same way.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

EXIT_INTERNAL = 70
FORMATS = ("text", "json", "github", "sarif")  # lint.formats.FORMATS (a test keeps them equal)


def safe_streams() -> None:
    """Never crash on a stdout or stderr that cannot encode a character (LANG=C, a cp1252
    pipe): what the encoding lacks is written as a backslash escape instead."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):  # a stream that cannot change
                reconfigure(errors="backslashreplace")


@dataclass(frozen=True)
class LintArgs:
    """`handoff lint`'s arguments."""

    paths: list[Path]
    fmt: str = "text"
    exit_zero: bool = False
    quiet: bool = False
    no_cache: bool = False


def parse_lint(argv: list[str]) -> LintArgs | None:
    """`lint` and its plain flags, or None for anything the Typer app should parse."""
    if not argv or argv[0] != "lint":
        return None
    paths: list[Path] = []
    flags = {"--exit-zero": False, "--quiet": False, "--no-cache": False}
    fmt = "text"
    rest = iter(argv[1:])
    for arg in rest:
        if arg in ("-q", "--quiet", "--exit-zero", "--no-cache"):
            flags["--quiet" if arg == "-q" else arg] = True
        elif arg in ("-f", "--format"):
            value = next(rest, None)
            if value is None:
                return None
            fmt = value
        elif arg.startswith("--format="):
            fmt = arg.partition("=")[2]
        elif arg.startswith("-") or not arg:
            return None  # --help, "--", combined short flags, anything unusual
        else:
            paths.append(Path(arg))
    if fmt not in FORMATS:
        return None  # the Typer app says what is wrong
    return LintArgs(paths, fmt, flags["--exit-zero"], flags["--quiet"], flags["--no-cache"])


@dataclass(frozen=True)
class ListArgs:
    """`handoff list --format json`'s arguments (the table form needs rich: Typer runs it)."""

    owners: list[str] | None = None
    status: str | None = None
    handoff_type: str | None = None
    overdue: bool = False
    exceptions: bool = False
    no_cache: bool = False


def parse_list(argv: list[str]) -> ListArgs | None:
    """`list --format json` and its plain filters, or None for anything the Typer app should
    parse (the table, --mine, --help, a repeated or unusual option)."""
    if not argv or argv[0] != "list":
        return None
    owners: list[str] = []
    values: dict[str, str] = {}
    flags = {"--overdue": False, "--exceptions": False, "--no-cache": False}
    rest = iter(argv[1:])
    for arg in rest:
        if arg in flags:
            flags[arg] = True
            continue
        name, equals, value = arg.partition("=")
        if name not in ("--owner", "--status", "--type", "--format", "-f") or (
                equals and name == "-f"):
            return None
        if not equals:
            value = next(rest, "")
        if not value or value.startswith("-"):
            return None
        name = "--format" if name == "-f" else name
        if name == "--owner":
            owners.append(value)
        elif name in values:
            return None  # given twice: the Typer app decides which counts
        else:
            values[name] = value
    if values.get("--format") != "json":
        return None
    return ListArgs(owners or None, values.get("--status"), values.get("--type"),
                    flags["--overdue"], flags["--exceptions"], flags["--no-cache"])


def list_outcome(args: ListArgs) -> str:
    """Run `list --format json`: the text the Typer command prints (its warning that the
    cache is skipped goes to stderr first, as there)."""
    from .queue import list_queue
    from .textsafe import safe_json
    from .workspace import find_workspace

    workspace = find_workspace(None, None)
    use_cache = not args.no_cache
    warning = cache_warning(workspace.state_dir) if use_cache else None
    if warning is not None:
        sys.stderr.write(warning + "\n")
        sys.stderr.flush()
    entries = list_queue(workspace, owners=args.owners, status=args.status,
                         handoff_type=args.handoff_type, overdue=args.overdue,
                         exceptions=args.exceptions, use_cache=use_cache and warning is None)
    return safe_json([e.as_dict() for e in entries]) + "\n"


def lint_outcome(args: LintArgs, explicit: Path | str | None) -> tuple[str, str | None, int]:
    """Run lint: (stdout text, the lines for stderr (a warning that the cache is skipped, the
    summary) or None, exit code)."""
    from .api import lint, lint_by_workspace
    from .errors import EXIT_FAILED, EXIT_OK
    from .lint.formats import format_findings
    from .workspace import find_workspace

    notes: list[str] = []
    if args.paths and not explicit:  # each PATH in its own workspace (pre-commit from a repo)
        problems: list[str] = []
        findings = lint_by_workspace(args.paths, use_cache=not args.no_cache, notes=problems)
        notes += [without_cache(problem) for problem in problems]
    else:
        workspace = find_workspace(None, explicit)
        use_cache = not args.no_cache
        if use_cache:
            problem = cache_warning(workspace.state_dir)
            if problem is not None:
                notes.append(problem)
                use_cache = False
        findings = lint(workspace, args.paths, use_cache=use_cache)
    output = format_findings(findings, args.fmt)
    errors = sum(1 for f in findings if f.severity == "error")
    if args.fmt == "text" and not args.quiet:
        warnings = len(findings) - errors
        notes.append(f"Found {errors} error(s) and {warnings} warning(s)." if findings
                     else "All packets passed.")
    summary = "\n".join(notes) or None
    return output, summary, EXIT_FAILED if errors and not args.exit_zero else EXIT_OK


def cache_warning(state_dir: Path) -> str | None:
    """The one stderr line saying the cache is skipped because .handoff/ cannot hold it (lint
    and list go on without it), or None."""
    from .cache import cache_problem

    problem = cache_problem(state_dir)
    return None if problem is None else without_cache(problem)


def without_cache(problem: str) -> str:
    """The warning line for a .handoff/ that cannot hold the cache (agent text made safe)."""
    from .textsafe import safe_text

    return f"handoff: warning: {safe_text(problem)}; going on without the cache"


def main() -> None:
    """Console-script entry point."""
    safe_streams()
    code = run_fast(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from .cli import app

    app(prog_name="handoff")


def run_fast(argv: list[str]) -> int | None:
    """Run `handoff lint` or `handoff list --format json` from argv without Typer; None when
    argv is not for the fast path."""
    args = parse_lint(argv)
    listing = parse_list(argv) if args is None else None
    if args is None and listing is None:
        return None
    from .errors import EXIT_OK, HandoffError
    from .textsafe import safe_text

    def notice(message: str) -> None:
        sys.stderr.write(f"handoff: {safe_text(message)}\n")
        sys.stderr.flush()

    try:
        if listing is not None:
            output, summary, code = list_outcome(listing), None, EXIT_OK
        else:
            assert args is not None
            output, summary, code = lint_outcome(args,
                                                 os.environ.get("HANDOFF_WORKSPACE") or None)
        if output:
            sys.stdout.write(output)
            sys.stdout.flush()
        if summary:
            sys.stderr.write(summary + "\n")
            sys.stderr.flush()
        return code
    except HandoffError as exc:
        notice(f"error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more is written
        return 1
    except Exception as exc:
        if os.environ.get("HANDOFF_DEBUG"):
            raise
        notice(f"error: internal error: {type(exc).__name__}: {exc} (set HANDOFF_DEBUG=1 for "
               "the traceback and please report it)")
        return EXIT_INTERNAL
