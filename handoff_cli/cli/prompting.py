"""The reviewer's prompt, shared by `decide` and `review`: the view (in a pager when it is
longer than the terminal), the recap of options and due time, then one question at a time.

The answer is an option's number or label, `r` to return the packet, `s` to skip, `q` to quit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

from ..errors import UsageError
from ..textsafe import safe_text

if TYPE_CHECKING:
    from rich.console import Console

    from ..review import ReviewView

COMMANDS = {"r": "return", "s": "skip", "q": "quit"}


@dataclass(frozen=True)
class Answer:
    """What the reviewer chose: an option, a return (with what is missing), skip or quit."""

    action: str  # "decide", "return", "skip" or "quit"
    option: str | None = None
    missing: tuple[str, ...] = ()
    note: str | None = None


def on_terminal() -> bool:
    """Whether a person can answer prompts (stdin is a terminal)."""
    return sys.stdin is not None and sys.stdin.isatty()  # None: started with stdin closed


def pager_command() -> str | None:
    """The pager to show a long view in: $PAGER (like git; empty or `cat` turns paging off),
    else `less` when it is installed."""
    import shutil

    chosen = os.environ.get("PAGER")
    if chosen is not None:
        chosen = chosen.strip()
        return None if chosen in ("", "cat") else chosen
    return "less" if shutil.which("less") else None


def page(text: str, command: str) -> bool:
    """Show `text` through the pager; False when the pager could not run (then print it)."""
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")  # as git does: quit on one screen, keep colours and the text
    try:
        result = subprocess.run(command, shell=True, input=text.encode("utf-8", "replace"),
                                env=env, check=False)
    except OSError:
        return False
    except KeyboardInterrupt:
        return True
    return result.returncode != 127  # 127: the shell found no such command


def show(view: ReviewView, console: Console | None = None) -> None:
    """Print the review view; on a terminal, a view taller than the screen goes to the pager
    (so that the recap and the prompt that follow stay in sight)."""
    from ..render import make_console, plain_lines, review_view

    console = console or make_console()
    text = plain_lines(console, review_view(view, width=console.width))
    command = pager_command() if console.is_terminal else None
    room = console.height - len(view.options) - 5  # the recap and the prompt stay in sight
    if command and text.count("\n") > room and page(text, command):
        return
    # Not typer.echo: click would strip the styles even where rich decided to colour.
    console.file.write(text)
    console.file.flush()


def show_recap(view: ReviewView, console: Console | None = None) -> None:
    """The options with their risks and the due time, directly above the prompt."""
    from ..render import decision_recap, make_console, plain_lines

    console = console or make_console()
    console.file.write("\n" + plain_lines(console, decision_recap(view)))
    console.file.flush()


def ask(question: str, default: str | None = None) -> str | None:
    """One line from the reviewer; None at end of input or Ctrl-C (both mean quit)."""
    try:
        # typer's own prompt: typer vendors click, so `click` may not even be installed.
        answer = typer.prompt(safe_text(question), default=default or "",
                              show_default=bool(default), prompt_suffix=" ")
    except typer.Abort:
        typer.echo("", err=True)
        return None
    return str(answer).strip()


def say(text: str) -> None:
    """A line for the reviewer (on stderr, so that stdout keeps the results)."""
    typer.echo(safe_text(text), err=True)


def choice_question(view: ReviewView, skip: bool) -> str:
    count = len(view.options)
    numbers = "1" if count == 1 else f"1-{count}"
    verbs = "r to return it to the agent, " + ("s to skip it, " if skip else "") + "q to quit"
    if not count:
        return f"The packet offers no options. Type {verbs}:"
    return f"Which option do you choose? Type a number ({numbers}) or a label, {verbs}:"


def ask_missing() -> tuple[str, ...] | None:
    """What the agent must supply; None means quit."""
    while True:
        answer = ask("What is missing? Name the fields, separated by commas:")
        if answer is None:
            return None
        fields = tuple(part.strip() for part in answer.split(",") if part.strip())
        if fields:
            return fields
        say("Name at least one field, for example: orderFile, shippingProof.")


def prompt_decision(view: ReviewView, identity: str, *, force: bool = False, yes: bool = False,
                    skip: bool = True, note: str | None = None,
                    returning: bool = False) -> Answer:
    """Ask until the reviewer decides, returns, skips or quits. Declining the confirmation
    goes back to the option question, offering the note typed before as the default.
    `returning` starts at "what is missing?" (decide --return)."""
    from ..decisions import choose_option
    from ..render import not_ready_text

    while True:
        missing: tuple[str, ...] = ()
        option: str | None = None
        label = ""
        if returning:
            answer: str | None = "r"
        else:
            show_recap(view)
            answer = ask(choice_question(view, skip))
        if answer is None or answer.casefold() == "q":
            return Answer("quit")
        command = COMMANDS.get(answer.casefold())
        if command == "skip" and skip:
            return Answer("skip")
        if command == "return":
            got = ask_missing()
            if got is None:
                return Answer("quit")
            missing = got
        elif not answer:
            continue
        else:
            try:
                row = choose_option(view.options, answer)
            except UsageError:
                say(f"'{answer}' does not name one of the options. " + (
                    f"Type a number from 1 to {len(view.options)} or a label, or r, "
                    f"{'s, ' if skip else ''}q." if view.options else "Type r or q."))
                continue
            if view.lint_errors and not force:
                say(f"This packet is {not_ready_text(view.lint_errors)}, so it cannot be "
                    "decided yet: return it to the agent (r), or decide with --force.")
                continue
            # Recorded by its position, the one unambiguous name (the digest check makes sure
            # the options are still the ones shown); the label is what the reviewer reads.
            option, label = str(row.number), row.label
        typed = ask("Add a note for the agent (optional; press Enter to leave it empty):"
                    if not note else "Add a note for the agent (Enter keeps the one shown):",
                    default=note)
        if typed is None:
            return Answer("quit")
        note = typed or None
        what = (f"return {view.run_id} to the agent, missing {', '.join(missing)},"
                if missing else f"'{label}' for {view.run_id}")
        if yes or confirm(f"Record {what} as {identity}?"):
            return Answer("return" if missing else "decide", option, missing, note)
        say("Nothing recorded yet; choose again.")
        returning = False


def confirm(question: str) -> bool:
    """A yes/no question (default no); end of input means no."""
    try:
        return bool(typer.confirm(safe_text(question), default=False))
    except typer.Abort:
        typer.echo("", err=True)
        return False
