"""`handoff sync`, and the --push plumbing the writing commands share (git as the shared store)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import typer

from ..workspace import Workspace
from .app import app, check_choice, current_workspace

T = TypeVar("T")

PUSH_HELP = ("Fetch and rebase first, then commit only this packet and push it (default: "
             "git.push in handoff.yaml).")


def written(workspace: Workspace, push: bool | None, write: Callable[[], T]) -> T:
    """Run a write, as a shared git change when --push (or git.push) asks for it."""
    from ..gitsync import publish, push_wanted

    if not push_wanted(workspace, push):
        return write()
    return publish(workspace, write)


def pull_first(workspace: Workspace, push: bool | None) -> None:
    """With --push, bring the branch up to date before showing or checking anything."""
    from ..gitsync import pull, push_wanted

    if push_wanted(workspace, push):
        pull(workspace)


@app.command("sync")
def sync_command(
    ctx: typer.Context,
    fmt: str = typer.Option("text", "--format", "-f", help="text or json."),
) -> None:
    """Fetch the shared branch, rebase onto it (keeping uncommitted work) and push."""
    from ..gitsync import sync
    from ..textsafe import safe_json, safe_text

    check_choice(fmt, ("text", "json"), "--format")
    result = sync(current_workspace(ctx))
    if fmt == "json":
        typer.echo(safe_json(result.as_dict()))
        return
    where = f"{result.remote}/{result.branch}"
    typer.echo(safe_text(f"{where}: pulled {result.pulled} commit(s), pushed "
                         f"{result.pushed} commit(s)"))
