"""`handoff show` and `handoff decide`: the review view, and recording the owner's decision.

On a terminal `decide` prompts for an option, a note and a confirmation; scripts pass --option.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..errors import EXIT_FAILED, UsageError
from ..textsafe import safe_text
from . import complete, prompting
from .app import app, check_choice, current_workspace, report_hooks
from .sync import PUSH_HELP, pull_first, written

if TYPE_CHECKING:
    from ..review import ReviewView
    from ..workspace import Workspace

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
    packet: str = typer.Argument(..., metavar="PACKET", help="A packet file or a runId.",
                                 autocompletion=complete.run_ids),
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


def packet_file(ref: str) -> Path | None:
    """PACKET when it names a packet file: that file is judged by its own workspace."""
    from ..workspace import PACKET_SUFFIXES

    path = Path(ref)
    return path if path.suffix in PACKET_SUFFIXES and path.is_file() else None


def no_terminal_hint() -> UsageError:
    return UsageError("no terminal to prompt on: pass --option LABEL [--note TEXT], or "
                      "--return --missing FIELD")


@app.command()
def decide(
    ctx: typer.Context,
    packet: str = typer.Argument(..., metavar="PACKET", help="A packet file or a runId.",
                                 autocompletion=complete.run_ids),
    option: str | None = typer.Option(None, "--option", "-o", metavar="N|LABEL",
                                      autocompletion=complete.option_labels,
                                      help="The chosen option: a number is always its position "
                                      "(1 is the first), anything else its label."),
    note: str | None = typer.Option(None, "--note", "-n", metavar="TEXT",
                                       help="A note for the agent and the record."),
    return_: bool = typer.Option(False, "--return", help="Send it back to the agent instead."),
    missing: list[str] = typer.Option([], "--missing", metavar="FIELD",
                                      help="With --return: what is missing (repeatable)."),
    digest: str | None = typer.Option(None, "--digest", metavar="SHA256",
                                         help="Refuse unless the packet still has this digest "
                                         "(from show --format json)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    force: bool = typer.Option(False, "--force",
                               help="Decide even though the packet has lint errors."),
    supersede: bool = typer.Option(False, "--supersede",
                                   help="Record it in place of a decision whose signature does "
                                   "not verify; that one stays in the history."),
    as_: str | None = typer.Option(None, "--as", metavar="EMAIL",
                                      help="Who decides (default: $HANDOFF_USER, git email)."),
    key: str | None = typer.Option(None, "--key", metavar="PATH",
                                   help="SSH key that signs the decision (default: "
                                   "$HANDOFF_SIGNING_KEY, else git's user.signingkey)."),
    push: bool | None = typer.Option(None, "--push/--no-push", help=PUSH_HELP),
) -> None:
    """Show the review view and record the decision (or --return it to the agent)."""
    from ..api import resolve_identity
    from ..decisions import check_can_decide, check_key_flag, choose_option

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
    view = check_can_decide(workspace, packet, identity, supersede)
    if option is not None:
        choose_option(view.options, option)  # a usage error before anything else
    interactive = option is None and not (return_ and missing)
    if interactive and not prompting.on_terminal():
        raise no_terminal_hint()
    seen = digest if digest is not None else view.digest
    answer = prompting.Answer("return" if return_ else "decide", option, tuple(missing), note)
    if interactive:
        assert identity is not None  # check_can_decide refuses a missing identity
        prompting.show(view)
        answer = prompting.prompt_decision(view, identity, force=force, yes=yes, skip=False,
                                           note=note, returning=return_)
        if answer.action in ("quit", "skip"):
            typer.echo("Nothing recorded.", err=True)
            raise typer.Exit(EXIT_FAILED)
    record(workspace, packet, answer, identity, seen, force, key, push, supersede)


def record(workspace: Workspace, packet: str, answer: prompting.Answer, identity: str | None,
           seen: str | None, force: bool, key: str | None, push: bool | None,
           supersede: bool = False) -> None:
    """Write the decision or the return (and push it, with --push), and say so on stdout."""
    from ..decisions import decide, return_packet

    if answer.action == "return":
        done = written(workspace, push, lambda: return_packet(
            workspace, packet, answer.missing, answer.note, identity, seen_digest=seen, key=key,
            supersede=supersede))
        typer.echo(safe_text(f"{done.run_id}: returned to the agent (missing: "
                             f"{', '.join(answer.missing)}) by {identity}"))
    else:
        chosen = answer.option
        assert chosen is not None
        done = written(workspace, push, lambda: decide(
            workspace, packet, chosen, answer.note, identity, seen_digest=seen, key=key,
            force=force, supersede=supersede))
        typer.echo(safe_text(f"{done.run_id}: decided '{done.event['option']}' by {identity}"))
    report_hooks(done.hook_problems)


@app.command("review")
def review_command(
    ctx: typer.Context,
    owner: list[str] | None = typer.Option(
        None, "--owner", metavar="ROLE", help="Only packets owned by ROLE (repeatable)."),
    handoff_type: str | None = typer.Option(None, "--type", metavar="TYPE",
                                            help="Only this handoff type."),
    force: bool = typer.Option(False, "--force",
                               help="Allow deciding packets that have lint errors."),
    as_: str | None = typer.Option(None, "--as", metavar="EMAIL",
                                      help="Who reviews (default: $HANDOFF_USER, git email)."),
    key: str | None = typer.Option(None, "--key", metavar="PATH",
                                   help="SSH key that signs the decisions (default: "
                                   "$HANDOFF_SIGNING_KEY, else git's user.signingkey)."),
    push: bool | None = typer.Option(None, "--push/--no-push", help=PUSH_HELP),
) -> None:
    """Your inbox: decide the open packets you may decide, most urgent first."""
    from ..api import resolve_identity
    from ..decisions import check_can_decide, check_key_flag
    from ..errors import HandoffError
    from ..inbox import inbox

    workspace = current_workspace(ctx)
    check_key_flag(workspace, key)
    identity = resolve_identity(as_)
    pull_first(workspace, push)  # the inbox as the remote has it
    items = inbox(workspace, identity, owners=list(owner) if owner else None,
                  handoff_type=handoff_type)
    assert identity is not None  # inbox refuses a missing identity
    if not items:
        typer.echo(safe_text(f"Nothing to decide: no open packet is waiting for {identity}."))
        return
    if not prompting.on_terminal():
        raise UsageError("no terminal to prompt on: 'handoff review' is interactive; use "
                         "'handoff list --mine' and 'handoff decide PACKET --option LABEL'")
    counts = {"decided": 0, "returned": 0, "skipped": 0}
    reached = 0
    for number, item in enumerate(items, start=1):
        reached = number
        try:
            view = check_can_decide(workspace, item.path, identity)
        except HandoffError as exc:  # decided by someone else meanwhile, edited, removed
            prompting.say(f"Skipping {item.run_id}: {exc}")
            continue
        prompting.say(f"\nPacket {number} of {len(items)}")
        prompting.show(view)
        answer = prompting.prompt_decision(view, identity, force=force)
        if answer.action == "quit":
            reached = number - 1
            break
        if answer.action == "skip":
            counts["skipped"] += 1
            continue
        try:
            record(workspace, str(item.path), answer, identity, view.digest, force, key, push)
        except HandoffError as exc:
            prompting.say(f"Not recorded: {exc}")
            counts["skipped"] += 1
            continue
        counts["returned" if answer.action == "return" else "decided"] += 1
    left = len(items) - reached
    summary = ", ".join(f"{verb} {count}" for verb, count in counts.items())
    typer.echo(f"{summary[0].upper()}{summary[1:]}" + (f"; {left} not reached." if left else "."))


def system_opener() -> list[str] | None:
    """The command that opens a file or URL with the user's default application:
    $HANDOFF_OPENER (a command line), else `open` on macOS, `xdg-open` elsewhere."""
    import os
    import shlex
    import shutil

    chosen = os.environ.get("HANDOFF_OPENER", "").strip()
    if chosen:
        return shlex.split(chosen)
    if sys.platform == "win32":
        return None  # os.startfile
    name = "open" if sys.platform == "darwin" else "xdg-open"
    found = shutil.which(name)
    return [found] if found else None


@app.command("open")
def open_command(
    ctx: typer.Context,
    packet: str = typer.Argument(..., metavar="PACKET", help="A packet file or a runId.",
                                 autocompletion=complete.run_ids),
    name: str = typer.Argument(..., metavar="NAME", help="The evidence entry's name.",
                               autocompletion=complete.evidence_names),
    print_: bool = typer.Option(False, "--print", help="Print its path (or URL) instead."),
) -> None:
    """Open one evidence file (inside the workspace only) or URL with the system's opener."""
    import os
    import subprocess

    from ..errors import HandoffError
    from ..review import evidence_target

    workspace = current_workspace(ctx, near=packet_file(packet))
    target = evidence_target(workspace, packet, name)
    where = target.url if target.url is not None else str(target.path)
    if print_:
        typer.echo(safe_text(where))
        return
    opener = system_opener()
    if opener is None and sys.platform == "win32":
        os.startfile(where)  # type: ignore[attr-defined]
        return
    if opener is None:
        raise UsageError("no opener found (xdg-open or open); set HANDOFF_OPENER, or use "
                         f"--print: {safe_text(where)}")
    try:
        # A list, never a shell: the path or URL is one argument whatever it contains. The
        # openers hand the file to the application and return at once.
        result = subprocess.run([*opener, where], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HandoffError(f"cannot run the opener {opener[0]}: {exc}") from None
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise HandoffError(f"the opener {opener[0]} failed (exit {result.returncode})"
                           + (f": {detail[-1]}" if detail else ""))
    typer.echo(safe_text(f"Opened {name}: {where}"), err=True)
