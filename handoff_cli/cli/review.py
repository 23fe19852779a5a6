"""`handoff show` and `handoff decide`: the review view, and recording the owner's decision.

On a terminal `decide` prompts for an option, a note and a confirmation; scripts pass --option.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..errors import EXIT_FAILED, UsageError
from .app import app, check_choice, current_workspace, report_hooks
from .sync import PUSH_HELP, pull_first, written

if TYPE_CHECKING:
    from ..review import ReviewView

FORMATS = ("rich", "json", "markdown")


def print_view(view: ReviewView) -> None:
    """Print the rich review view at the terminal's width (plain text in pipes and NO_COLOR)."""
    from ..render import make_console, plain_lines, review_view

    console = make_console()
    # Not typer.echo: click would strip the styles even where rich decided to colour.
    console.file.write(plain_lines(console, review_view(view, width=console.width)))


@app.command()
def show(
    ctx: typer.Context,
    packet: str = typer.Argument(..., metavar="PACKET", help="A packet file or a runId."),
    fmt: str = typer.Option("rich", "--format", "-f", help="rich, json or markdown."),
) -> None:
    """The review view: status and due time, goal and trigger, evidence, options with risk,
    owner, next action, body and history."""
    from ..render import review_markdown
    from ..review import review
    from ..textsafe import safe_json

    check_choice(fmt, FORMATS, "--format")
    view = review(current_workspace(ctx), packet)
    if fmt == "json":
        typer.echo(safe_json(view.as_dict()))
    elif fmt == "markdown":
        typer.echo(review_markdown(view), nl=False)
    else:
        print_view(view)


def prompt_option(view: ReviewView) -> str:
    """Ask for an option by number until a valid one is given."""
    count = len(view.options)
    if count == 0:
        raise UsageError("the packet offers no options to choose from; return it with "
                         "--return --missing options")
    while True:
        answer = str(typer.prompt(f"Option [1-{count}]")).strip()
        if answer.isdigit() and 1 <= int(answer) <= count:
            return view.options[int(answer) - 1].label
        typer.echo(f"Type a number from 1 to {count}.", err=True)


def prompt_missing() -> list[str]:
    """Ask what is missing, as a comma-separated list."""
    answer = str(typer.prompt("What is missing (comma-separated fields)"))
    return [part.strip() for part in answer.split(",") if part.strip()]


def packet_file(ref: str) -> Path | None:
    """PACKET when it names a packet file: that file is judged by its own workspace."""
    from ..workspace import PACKET_SUFFIXES

    path = Path(ref)
    return path if path.suffix in PACKET_SUFFIXES and path.is_file() else None


def on_terminal() -> bool:
    """Whether a person can answer prompts (stdin is a terminal)."""
    return sys.stdin.isatty()


def no_terminal_hint() -> UsageError:
    return UsageError("no terminal to prompt on: pass --option LABEL [--note TEXT], or "
                      "--return --missing FIELD")


@app.command()
def decide(
    ctx: typer.Context,
    packet: str = typer.Argument(..., metavar="PACKET", help="A packet file or a runId."),
    option: str | None = typer.Option(None, "--option", "-o", metavar="LABEL",
                                         help="The chosen option's label (or its number)."),
    note: str | None = typer.Option(None, "--note", "-n", metavar="TEXT",
                                       help="A note for the agent and the record."),
    return_: bool = typer.Option(False, "--return", help="Send it back to the agent instead."),
    missing: list[str] = typer.Option([], "--missing", metavar="FIELD",
                                      help="With --return: what is missing (repeatable)."),
    digest: str | None = typer.Option(None, "--digest", metavar="SHA256",
                                         help="Refuse unless the packet still has this digest "
                                         "(from show --format json)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_: str | None = typer.Option(None, "--as", metavar="EMAIL",
                                      help="Who decides (default: $HANDOFF_USER, git email)."),
    key: str | None = typer.Option(None, "--key", metavar="PATH",
                                   help="SSH key that signs the decision (default: "
                                   "$HANDOFF_SIGNING_KEY, else git's user.signingkey)."),
    push: bool | None = typer.Option(None, "--push/--no-push", help=PUSH_HELP),
) -> None:
    """Show the review view and record the decision (or --return it to the agent)."""
    from ..api import resolve_identity
    from ..decisions import (
        check_can_decide,
        check_key_flag,
        choose_option,
        decide,
        return_packet,
    )
    from ..textsafe import safe_text

    if return_ and option is not None:
        raise UsageError("--return and --option exclude each other")
    if missing and not return_:
        raise UsageError("--missing goes with --return")
    if digest is not None and not digest.strip():
        raise UsageError("--digest is empty: give the digest from 'show --format json', or "
                         "leave --digest out")
    workspace = current_workspace(ctx, near=packet_file(packet))
    check_key_flag(workspace, key)
    identity = resolve_identity(as_)
    pull_first(workspace, push)  # the reviewer sees, and decides on, the remote's version
    view = check_can_decide(workspace, packet, identity)
    if option is not None:
        choose_option(view.options, option)  # a usage error before anything else
    interactive = option is None and not (return_ and missing)
    if interactive and not on_terminal():
        raise no_terminal_hint()
    seen = digest if digest is not None else view.digest
    if interactive:
        print_view(view)
        typer.echo("")
        if return_:
            missing = prompt_missing()
        else:
            option = prompt_option(view)
        note = typer.prompt("Note (optional)", default=note or "", show_default=False) or None
        what = f"return it, missing {', '.join(missing)}" if return_ else f"'{option}'"
        if not yes and not typer.confirm(safe_text(f"Record {what} as {identity}?"),
                                         default=False):
            typer.echo("Nothing recorded.", err=True)
            raise typer.Exit(EXIT_FAILED)
    if return_:
        done = written(workspace, push, lambda: return_packet(
            workspace, packet, missing, note, identity, seen_digest=seen, key=key))
        typer.echo(safe_text(f"{done.run_id}: returned to the agent (missing: "
                             f"{', '.join(missing)}) by {identity}"))
        report_hooks(done.hook_problems)
    else:
        chosen = option
        assert chosen is not None
        done = written(workspace, push, lambda: decide(workspace, packet, chosen, note, identity,
                                                       seen_digest=seen, key=key))
        typer.echo(safe_text(f"{done.run_id}: decided '{done.event['option']}' by {identity}"))
        report_hooks(done.hook_problems)
