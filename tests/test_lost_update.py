"""No lost update: an agent or editor that rewrites a packet (write-then-rename, without the
lock) while decide, return, route or lint --fix is writing it keeps its change; the command
refuses with exit 3 instead of overwriting it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, write_packet
from typer.testing import CliRunner

from handoff_cli import decisions, editing, store
from handoff_cli.cli import app
from handoff_cli.errors import ConflictError
from handoff_cli.workspace import Workspace

RUN = "refund-review-2026-05-24-1500"
MARIA = "maria.lopez@example.com"


def outside_write(path: Path, text: str) -> None:
    """What an agent or an editor does: write a temporary file, then rename it over the packet."""
    temp = path.with_name(f".{path.name}.agent-tmp")
    temp.write_text(text, encoding="utf-8")
    os.replace(temp, path)


def agent_edit(path: Path) -> str:
    return path.read_text(encoding="utf-8").replace(
        "The customer asks", "UPDATED BY THE AGENT. The customer asks")


def race_in_set_keys(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[str]:
    """Make the outside writer strike after the command read the packet, before it writes."""
    real: Callable[..., Any] = editing.set_keys
    written: list[str] = []

    def racing(*args: Any, **kwargs: Any) -> Any:
        if not written:
            written.append(agent_edit(path))
            outside_write(path, written[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(editing, "set_keys", racing)
    return written


def test_outside_write_while_deciding_is_kept_and_decide_is_exit_3(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    theirs = race_in_set_keys(monkeypatch, path)
    result = CliRunner().invoke(app, ["-w", str(root), "decide", RUN, "--option", "1",
                                      "--as", MARIA, "--yes"])
    assert result.exit_code == 3, result.output
    assert "changed while deciding" in result.output
    assert path.read_text(encoding="utf-8") == theirs[0]  # their change survived, untouched


def test_outside_write_while_returning_is_kept(workspace: Workspace, root: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    theirs = race_in_set_keys(monkeypatch, path)
    with pytest.raises(ConflictError, match="changed while deciding"):
        decisions.return_packet(workspace, RUN, ["orderFile"], None, MARIA)
    assert path.read_text(encoding="utf-8") == theirs[0]


def test_outside_write_while_routing_is_noted_and_kept(root: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    text = SEED_MD.replace("ownerRole: customer-success-lead\n", "ownerRole: data-owner\n")
    assert text != SEED_MD
    path = write_packet(root, f"{RUN}.md", text)
    theirs = race_in_set_keys(monkeypatch, path)
    result = CliRunner().invoke(app, ["-w", str(root), "route"])
    assert "not routed" in result.output and "changed while deciding" in result.output
    assert path.read_text(encoding="utf-8") == theirs[0]


def test_a_write_in_the_last_instant_is_given_back(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # The other writer strikes between the final check and the swap: the atomic exchange
    # takes their file, sees it is not what was read, and swaps it back.
    path = tmp_path / "p.md"
    path.write_text("original\n", encoding="utf-8")
    real = store._exchange

    def late(first: Path, second: Path) -> bool:
        if first.read_text(encoding="utf-8") == "ours\n":
            outside_write(path, "theirs\n")
        return real(first, second)

    monkeypatch.setattr(store, "_exchange", late)
    if not real(tmp_path / "p.md", tmp_path / "p.md"):  # no renameat2 here: nothing to test
        pytest.skip("this platform has no atomic exchange (renameat2)")
    with pytest.raises(ConflictError):
        store.replace_file(tmp_path / "state", path, "p", "ours\n", expected="original\n")
    assert path.read_text(encoding="utf-8") == "theirs\n"
    assert not list((tmp_path / "state" / "tmp").iterdir())  # no staged file left behind


def test_unchanged_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "p.md"
    path.write_text("original\n", encoding="utf-8")
    store.replace_file(tmp_path / "state", path, "p", "ours\n", expected="original\n")
    assert path.read_text(encoding="utf-8") == "ours\n"
    assert not list((tmp_path / "state" / "tmp").iterdir())


def test_a_packet_that_is_a_symlink_inside_the_queue_is_decided(root: Path) -> None:
    # Written through the link: the link stays, the one file it names is decided.
    target = root / "packets" / "real" / f"{RUN}.md"
    target.parent.mkdir(parents=True)
    target.write_text(SEED_MD, encoding="utf-8")
    link = root / "packets" / f"{RUN}.md"
    link.symlink_to(Path("real") / f"{RUN}.md")
    result = CliRunner().invoke(app, ["-w", str(root), "decide", RUN, "--option", "1",
                                      "--as", MARIA, "--yes"])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and "status: decided" in target.read_text(encoding="utf-8")


def test_conflict_names_the_packet_relative_to_the_workspace(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    race_in_set_keys(monkeypatch, path)
    result = CliRunner().invoke(app, ["-w", str(root), "decide", RUN, "--option", "1",
                                      "--as", MARIA, "--yes"])
    assert f"error: packets/{RUN}.md: changed while deciding" in result.output


@pytest.mark.parametrize("late_write", ["between the swaps", "during the swap back"])
def test_their_newest_write_stays_when_they_write_twice_around_the_swap(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, late_write: str) -> None:
    # They write once just before the exchange (so ours must be swapped back out) and once
    # more, either before the swap back begins or in the instant before the swap back itself:
    # their second (newest) write must be the file that stays.
    path = tmp_path / "p.md"
    path.write_text("original\n", encoding="utf-8")
    real = store._exchange
    if not real(path, path):
        pytest.skip("this platform has no atomic exchange (renameat2)")
    calls: list[int] = []

    def racing(first: Path, second: Path) -> bool:
        calls.append(1)
        if len(calls) == 1:
            outside_write(path, "theirs 1\n")
            swapped = real(first, second)
            if late_write == "between the swaps":
                outside_write(path, "theirs 2\n")
            return swapped
        if len(calls) == 2 and late_write == "during the swap back":
            outside_write(path, "theirs 2\n")
        return real(first, second)

    monkeypatch.setattr(store, "_exchange", racing)
    with pytest.raises(ConflictError):
        store.replace_file(tmp_path / "state", path, "p", "ours\n", expected="original\n")
    assert path.read_text(encoding="utf-8") == "theirs 2\n"
    assert not list((tmp_path / "state" / "tmp").iterdir())
