"""`handoff new`: scaffold a packet from its type's template."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer

from ..errors import UsageError
from . import complete
from .app import app, current_workspace, notice
from .sync import PUSH_HELP, written


def read_bounded(source: str, limit: int, flag: str) -> str:
    """A file's or stdin's ('-') text, reading at most `limit` + 1 bytes: a larger input is
    refused (exit 2, naming it) without being read into memory whole."""
    name = "<stdin>" if source == "-" else source
    if source == "-" and sys.stdin is None:  # started with standard input closed
        raise UsageError(f"cannot read {flag}: there is no standard input", name)
    try:
        if source == "-":
            raw = sys.stdin.buffer.read(limit + 1) if hasattr(sys.stdin, "buffer") \
                else sys.stdin.read(limit + 1).encode("utf-8")
        else:
            with open(source, "rb") as handle:
                raw = handle.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {flag}: {exc.strerror or exc}", name) from None
    if len(raw) > limit:
        raise UsageError(f"{flag} input is larger than the {limit}-byte packet size limit "
                         "(lint.maxFileBytes); nothing written", name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UsageError(f"cannot read {flag}: not valid UTF-8", name, line) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # as text-mode reading does


def read_json_input(source: str, limit: int) -> dict[str, Any]:
    """A whole JSON packet from a file or '-' (stdin); errors name the file and line."""
    from ..packet import LoadFailure, parse_json_object

    name = "<stdin>" if source == "-" else source
    text = read_bounded(source, limit, "--from-json")
    try:
        return parse_json_object(text)
    except LoadFailure as failure:
        raise UsageError(failure.message, name, failure.line) from None


def read_body(value: str, limit: int) -> str:
    """--body TEXT, or '-' for the narrative from stdin."""
    if value != "-":
        from ..api import check_size

        check_size(value, limit, "--body")
        return value
    return read_bounded("-", limit, "--body")


def packet_input(set_: list[str], evidence: list[str], option: list[str], from_json: str | None,
                 body: str | None, limit: int) -> Any:
    """The PacketInput from new/resubmit flags; any input larger than `limit` bytes (the
    packet size bound) is refused, naming it."""
    from ..api import PacketInput, check_size, parse_assignment, parse_value

    if from_json == "-" and body == "-":
        raise UsageError("--from-json - and --body - cannot both read stdin")
    for flag, items in (("--set", set_), ("--evidence", evidence), ("--option", option)):
        for item in items:
            check_size(item, limit, f"{flag} {item.partition('=')[0][:40]}")
    values = {}
    for item in set_:
        key, raw = parse_assignment(item, "--set")
        values[key] = parse_value(key, raw)
    options = []
    for item in option:
        label, risk = parse_assignment(item, "--option")
        options.append({"label": label, "risk": risk.strip()})
    return PacketInput(
        from_json=read_json_input(from_json, limit) if from_json else None,
        values=values,
        evidence=dict(parse_assignment(item, "--evidence") for item in evidence),
        options=options,
        body=read_body(body, limit) if body is not None else None,
    )


@app.command()
def new(
    ctx: typer.Context,
    handoff_type: str = typer.Argument(..., metavar="TYPE",
                                       help="A handoff type from the runbook.",
                                       autocompletion=complete.handoff_types),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                   help="Set a key (VALUE is JSON if it parses, else text)."),
    evidence: list[str] = typer.Option([], "--evidence", metavar="NAME=PATH",
                                       help="Evidence file, relative to the workspace."),
    option: list[str] = typer.Option([], "--option", metavar="LABEL=RISK",
                                     help="An option and its risk (repeatable)."),
    from_json: str | None = typer.Option(None, "--from-json", metavar="FILE|-",
                                            help="A whole JSON packet, from a file or stdin."),
    body: str | None = typer.Option(None, "--body", metavar="TEXT|-",
                                       help="The narrative for the reviewer (- reads stdin)."),
    strict: bool = typer.Option(False, "--strict", help="Write nothing and exit 1 with the "
                                "findings unless the packet lints clean."),
    replaces: str | None = typer.Option(None, "--replaces", metavar="RUNID",
                                           help="File it in place of a returned packet."),
    fmt: str | None = typer.Option(None, "--format", help="md or json (default: workspace); "
                                   "with --strict, json prints the findings as JSON too.",
                                   autocompletion=complete.packet_formats),
    as_: str | None = typer.Option(None, "--as", help="Who creates it (history)."),
    push: bool | None = typer.Option(None, "--push/--no-push", help=PUSH_HELP),
) -> None:
    """Scaffold a packet, route its owner from the runbook, and print the new file's path."""
    from ..api import create_packet, resolve_identity
    from ..errors import NotCleanError
    from ..lifecycle import create_replacement
    from .app import check_choice, report_hooks

    if fmt is not None:
        check_choice(fmt, ("md", "json"), "--format")
    workspace = current_workspace(ctx)
    given = packet_input(set_, evidence, option, from_json, body,
                         workspace.settings.max_file_bytes)
    identity = resolve_identity(as_)
    try:
        if replaces is not None:
            made = written(workspace, push, lambda: create_replacement(
                workspace, replaces, handoff_type, given, identity, fmt=fmt, strict=strict))
        else:
            made = written(workspace, push, lambda: create_packet(
                workspace, handoff_type, given, identity=identity, fmt=fmt, strict=strict))
    except NotCleanError as exc:
        from ..lint.formats import format_findings

        typer.echo(format_findings(list(exc.findings), "json" if fmt == "json" else "text"),
                   nl=False)
        raise
    for warning in made.warnings:
        notice(f"warning: {warning}")
    typer.echo(workspace.relative(made.path))
    report_hooks(made.hook_problems)
    _report_findings(workspace, made.path)


def _report_findings(workspace: Any, path: Path) -> None:
    """Tell the agent, on stderr, what the new packet still lacks."""
    from ..api import lint
    from ..lint.formats import text_line

    shown = Path(os.path.relpath(path)) if path.is_absolute() else path
    findings = lint(workspace, [shown])
    for finding in findings:
        typer.echo(text_line(finding), err=True)
    if findings:
        notice(f"{len(findings)} finding(s) to fix before review; "
               f"check again with: handoff lint {workspace.relative(path)}")




@app.command()
def convert(
    ctx: typer.Context,
    packet: str = typer.Argument(..., metavar="PACKET", help="A packet file or a runId.",
                                 autocompletion=complete.run_ids),
    to: str = typer.Option(..., "--to", metavar="md|json", help="The form to write: md or json.",
                           autocompletion=complete.packet_formats),
    keep: bool = typer.Option(False, "--keep", help="Keep the original file too."),
) -> None:
    """Rewrite a packet as Markdown or JSON (every key, the body and the history kept)."""
    from ..convert import convert_packet
    from .app import check_choice

    check_choice(to, ("md", "json"), "--to")
    workspace = current_workspace(ctx)
    done = convert_packet(workspace, packet, to, keep=keep)
    typer.echo(workspace.relative(done.target))
    if done.kept:
        notice(f"note: kept {workspace.relative(done.source)}; both files have the same runId "
               "(lint H601) until one is removed")
