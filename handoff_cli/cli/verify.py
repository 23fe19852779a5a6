"""`handoff verify`: each recorded decision's verdict (signature, signer, authority, content)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import EXIT_FAILED, EXIT_OK
from .app import app, check_choice, current_workspace

FORMATS = ("text", "json")


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    paths: list[Path] | None = typer.Argument(
        None, metavar="[PATH...]", help="Packet files, folders or runIds (default: packets/)."),
    fmt: str = typer.Option("text", "--format", "-f", help="text or json."),
) -> None:
    """Verify each recorded decision's OpenSSH signature against the allowed-signers file, its
    signer's authority in the runbook, and the packet content it was made on."""
    from ..signing import failed, verify_packets
    from ..textsafe import safe_json, safe_text

    check_choice(fmt, FORMATS, "--format")
    given = list(paths or [])
    workspace = current_workspace(ctx, given[0] if given else None)
    verdicts = verify_packets(workspace, given)
    bad = [v for v in verdicts if failed(workspace, v)]
    if fmt == "json":
        typer.echo(safe_json([v.as_dict() for v in verdicts]))
    else:
        for verdict in verdicts:
            who = f" by {verdict.by} at {verdict.at}" if verdict.by else ""
            typer.echo(safe_text(f"{verdict.path}: {verdict.state}{who}: {verdict.reason}"))
        typer.echo(f"{len(verdicts)} decision(s), {len(bad)} failed verification."
                   if verdicts else "No decisions to verify.", err=True)
    raise typer.Exit(EXIT_FAILED if bad else EXIT_OK)
