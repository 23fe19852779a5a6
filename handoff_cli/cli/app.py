"""The Typer application, global options, and the one place errors become exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from .. import __version__
from ..entry import safe_streams
from ..errors import EXIT_USAGE, HandoffError
from ..workspace import Workspace, find_workspace

EXIT_INTERNAL = 70


def notice(message: str) -> None:
    """One line to stderr, prefixed 'handoff: ', with any agent text in it made terminal-safe."""
    from ..textsafe import safe_text

    typer.echo(f"handoff: {safe_text(message)}", err=True)


def report_hooks(problems: Sequence[str]) -> None:
    """Each notification hook that failed, as a warning on stderr (the write stands)."""
    for problem in problems:
        notice(f"warning: {problem}")


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print one error line to stderr and exit with `code`."""
    notice(f"error: {message}")
    raise typer.Exit(code)


COMMAND_ORDER = ("init", "new", "edit", "convert", "lint", "route", "list", "review", "show",
                 "open", "decide", "status", "wait", "close", "verify", "withdraw", "resubmit",
                 "resolve", "sync", "stats", "brief", "schema", "rules", "mcp", "demo")


class HandoffGroup(TyperGroup):
    """Maps every HandoffError to one message and its exit code; never a traceback."""

    def list_commands(self, ctx: Any) -> list[str]:
        """Commands in the order a team meets them, not the order they were registered."""
        names: list[str] = super().list_commands(ctx)
        return sorted(names, key=lambda n: COMMAND_ORDER.index(n) if n in COMMAND_ORDER else 99)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The command list with each command's whole first sentence, wrapped, never cut."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Refuse a command's argument that is not UTF-8 text (bytes the shell passed
        undecoded) before the command runs: it could never be written into a packet or a
        decision. `lint` takes file names, which may be any bytes, so its are let through."""
        given = list(args)
        rest: list[str] = super().parse_args(ctx, args)  # the command's own arguments
        command = given[len(given) - len(rest) - 1] if len(given) > len(rest) else None
        if command != "lint":
            for arg in rest:
                try:
                    arg.encode("utf-8")
                except UnicodeEncodeError:
                    fail(f"{command}: an argument is not valid UTF-8 text: {arg!r}")
        return rest

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except HandoffError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except BrokenPipeError:
            sys.stderr.close()
            raise typer.Exit(1) from None
        except Exception as exc:
            # Typer/click signal exits and usage errors with exceptions of their own.
            if type(exc).__module__.startswith(("typer", "click")) or os.environ.get(
                "HANDOFF_DEBUG"
            ):
                if type(exc).__name__ == "NoSuchOption":  # typer vendors click: match by name
                    hint = global_option_hint(str(getattr(exc, "option_name", "")),
                                              getattr(getattr(exc, "ctx", None), "info_name",
                                                      None))
                    if hint:
                        setattr(exc, "message", f"{getattr(exc, 'message', exc)}\n{hint}")  # noqa: B010
                raise
            fail(f"internal error: {type(exc).__name__}: {exc} (set HANDOFF_DEBUG=1 for the "
                 "traceback and please report it)", EXIT_INTERNAL)


GLOBAL_OPTIONS = {"-w": "DIR", "--workspace": "DIR", "--color": "auto|always|never",
                  "--version": "", "--install-completion": "", "--show-completion": ""}


def global_option_hint(option: str, command: str | None) -> str | None:
    """The hint for a global option typed after the command (`handoff list -w DIR`)."""
    name = option.split("=", 1)[0]
    if name not in GLOBAL_OPTIONS or not command:
        return None
    value = f" {GLOBAL_OPTIONS[name]}" if GLOBAL_OPTIONS[name] else ""
    return (f"Hint: {name} is a global option; put it before the command: "
            f"handoff {name}{value} {command} ...")


app = typer.Typer(
    cls=HandoffGroup,
    name="handoff",
    help="Decision packets for AI agents that must hand a decision to a person.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish)
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"handoff {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    workspace: Path | None = typer.Option(
        None, "--workspace", "-w", metavar="DIR",
        help="Workspace directory (default: $HANDOFF_WORKSPACE, else walk up from here).",
    ),
    color: str | None = typer.Option(
        None, "--color", metavar="auto|always|never",
        help="Colour in terminal views (default: auto; NO_COLOR and FORCE_COLOR are honoured)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Decision packets for AI agents that must hand a decision to a person."""
    from ..render import set_color_flag

    safe_streams()
    if color is not None:
        check_choice(color, ("auto", "always", "never"), "--color")
    set_color_flag(color)
    ctx.obj = {"workspace": workspace, "color": color}


def current_workspace(ctx: typer.Context, near: Path | None = None) -> Workspace:
    """The workspace for this command: --workspace, $HANDOFF_WORKSPACE, or walk up."""
    explicit = (ctx.find_root().obj or {}).get("workspace")
    start = None
    if near is not None:
        start = near if near.is_dir() else near.parent
    if explicit is None and not os.environ.get("HANDOFF_WORKSPACE") and start is not None:
        try:
            return find_workspace(start)
        except HandoffError:
            pass
    return find_workspace(None, explicit)


def check_choice(value: str, choices: tuple[str, ...], flag: str) -> str:
    """Validate an enumerated option with a clear message (exit 2)."""
    if value not in choices:
        fail(f"{flag} must be one of {', '.join(choices)}; got '{value}'")
    return value
