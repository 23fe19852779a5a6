"""Hostile files and states: one bad file never stops the queue, limits are clear errors, and
nothing blocks, crashes or escapes. Each test names the promise it keeps (README, Security)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, write_packet

from handoff_cli.agent import wait
from handoff_cli.packet import load_packet
from handoff_cli.store import TEMP_PREFIX, replace_file
from handoff_cli.workspace import open_workspace

RUN = "refund-review-2026-05-24-1500"
GOOD = f"packets/{RUN}.md"


def handoff(root: Path, *args: str, timeout: float = 60,
            **env: str) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a process (a blocking open would hang it, so it has a timeout)."""
    full = {**os.environ, "HANDOFF_WORKSPACE": str(root), "NO_COLOR": "1", "COLUMNS": "120",
            **env}
    return subprocess.run([sys.executable, "-m", "handoff_cli", *args], env=full,
                          capture_output=True, text=True, timeout=timeout,
                          encoding="utf-8", errors="replace")


QUEUE_COMMANDS = (("lint",), ("list", "--format", "json"), ("list",), ("stats",),
                  ("route", "--dry-run"), ("route", "--escalate"))


def assert_queue_survives(root: Path) -> None:
    """Every queue command finishes with 0 or 1, lists/lints the good packet, no traceback."""
    for command in QUEUE_COMMANDS:
        result = handoff(root, *command)
        assert result.returncode in (0, 1), (command, result.stderr)
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr
        if command[0] == "list" and "json" in command:
            assert RUN in [row["runId"] for row in json.loads(result.stdout)]


# -- special files never block ------------------------------------------------------------------


def test_fifo_and_device_symlinks_in_packets_never_block(root: Path, tmp_path: Path) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD)
    os.mkfifo(root / "packets" / "pipe.md")
    os.mkfifo(root / "exceptions" / "pipe.json")
    os.symlink("/dev/zero", root / "packets" / "zero.md")
    os.symlink("/dev/stdin", root / "packets" / "stdin.md")
    outside = tmp_path / "secret.md"
    outside.write_text(SEED_MD.replace(RUN, "secret"))
    os.symlink(outside, root / "packets" / "secret.md")
    (root / "packets" / "folder.md").mkdir()
    assert_queue_survives(root)  # each command has a timeout: a blocking open fails it
    result = handoff(root, "lint", "--format", "json")
    found = {f["path"]: f["message"] for f in json.loads(result.stdout) if f["rule"] == "H101"}
    assert "FIFO" in found["packets/pipe.md"] and "FIFO" in found["exceptions/pipe.json"]
    assert "outside the workspace" in found["packets/zero.md"]
    assert "outside the workspace" in found["packets/secret.md"]
    assert "secret" not in result.stdout.replace("packets/secret.md", "")  # never read


def test_a_symlink_inside_the_workspace_is_still_a_packet(root: Path) -> None:
    target = write_packet(root, f"{RUN}.md", SEED_MD, folder="drafts")
    os.symlink(target, root / "packets" / f"{RUN}.md")
    result = handoff(root, "lint")
    assert result.returncode == 0, result.stdout + result.stderr


# -- values at the edges ------------------------------------------------------------------------

EDGE_VALUES = [
    "dueBy: 9999-12-31T23:59:59-23:59",
    "dueBy: 0001-01-01T00:00:00+23:59",
    "createdAt: 9999-12-31T23:59:59Z\ndueBy: 9999-12-31T23:59:59Z",
    "createdAt: 0001-01-01T00:00:00Z",
    "createdAt: 9999-12-31T23:59:59+00:00",
    "amount: " + "9" * 4000,
    "amount: -" + "9" * 400,
    "amount: 1e999",
    "amount: .nan",
    "customer: {tier: " + "1" * 300 + "}",
]


@pytest.mark.parametrize("extra", EDGE_VALUES)
def test_values_at_the_edges_never_stop_a_command(root: Path, extra: str) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD)
    edge = SEED_MD.replace(RUN, "edge").replace("---\nThe", f"{extra}\n---\nThe")
    write_packet(root, "edge.md", edge)
    assert_queue_survives(root)


def test_lone_surrogate_escape_is_a_finding(run: Any, root: Path) -> None:
    write_packet(root, "bad.json", '{"runId": "bad", "triggerReason": "\\udc80"}')
    write_packet(root, f"{RUN}.md", SEED_MD)
    result = run("list", "--format", "json")
    rows = {row["runId"]: row for row in json.loads(result.stdout)}
    assert rows["bad"]["status"] == "invalid" and "surrogate" in rows["bad"]["problem"]
    assert rows[RUN]["status"] == "open"


# -- runbook and settings at their limits ----------------------------------------------------


@pytest.mark.parametrize(("old", "new", "words"), [
    ("timeToDecide: 4h", "timeToDecide: 99999999999999999999w", "at most 3650 days"),
    ("timeToDecide: 4h", "timeToDecide: 0m", "more than 0"),
])
def test_runbook_at_its_limits_is_a_broken_runbook(run: Any, root: Path, old: str, new: str,
                                                    words: str) -> None:
    runbook = root / "runbooks" / "default.yaml"
    text = runbook.read_text()
    assert old in text
    runbook.write_text(text.replace(old, new, 1))
    write_packet(root, f"{RUN}.md", SEED_MD)
    line = text[: text.index(old)].count("\n") + 1
    for command in (("list",), ("lint",), ("route",), ("brief",)):
        result = run(*command)
        assert result.exit_code == 2, result.output
        assert f"runbooks/default.yaml:{line}: broken runbook" in result.stderr
        assert words in result.stderr


@pytest.mark.parametrize(("old", "new", "words"), [
    ("maxFileBytes: 1048576", "maxFileBytes: " + "9" * 40, "from 1 to"),
    ("maxFileBytes: 1048576", "maxFileBytes: " + "9" * 5000, "too many digits"),
])
def test_settings_at_their_limits(run: Any, root: Path, old: str, new: str, words: str) -> None:
    config = root / "handoff.yaml"
    text = config.read_text()
    config.write_text(text.replace(old, new))
    line = text[: text.index(old)].count("\n") + 1
    result = run("list")
    assert result.exit_code == 2, result.output
    assert f"handoff.yaml:{line}:" in result.stderr and words in result.stderr


# -- the process around the command -------------------------------------------------------------


def test_a_deleted_current_directory_is_one_clear_line(runner: Any, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from handoff_cli.cli import app

    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 2
    assert "cannot find the current directory" in result.stderr
    assert "internal error" not in result.stderr


def test_output_to_a_non_utf8_stdout(root: Path) -> None:
    text = SEED_MD.replace("Refund amount exceeds", "Rückerstattung 払い戻し exceeds")
    write_packet(root, f"{RUN}.md", text)
    for command in (("list",), ("show", RUN), ("show", RUN, "--format", "markdown"),
                    ("list", "--format", "json"), ("lint", "--format", "sarif")):
        result = handoff(root, *command, PYTHONIOENCODING="ascii", LC_ALL="C")
        assert result.returncode == 0, (command, result.stderr)
        assert "internal error" not in result.stderr
    result = handoff(root, "show", RUN, PYTHONIOENCODING="ascii", LC_ALL="C")
    assert "R\\xfcckerstattung" in result.stdout


def test_wait_timeout_nan_is_a_usage_error(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD)
    result = run("wait", RUN, "--timeout", "nan")
    assert result.exit_code == 2 and "not nan" in result.stderr


def test_brief_escapes_runbook_text(run: Any, root: Path) -> None:
    runbook = root / "runbooks" / "default.yaml"
    text = runbook.read_text()
    start = text.index("description: ", text.index("handoffTypes:"))
    end = text.index("\n", start)
    runbook.write_text(text[:start] + 'description: "\\e]8;;http://x\\a\\e[2J"' + text[end:])
    result = run("brief")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\\x1b" in result.stdout


def test_wait_follows_a_packet_route_moved_to_exceptions(root: Path) -> None:
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    workspace = open_workspace(root)
    moved = root / "exceptions" / path.name
    steps: list[str] = []

    def sleep(_: float) -> None:  # the world changes between two looks, no wall time
        if not steps:
            path.rename(moved)  # what `route` does for an unplanned failure
            steps.append("moved")
        elif len(steps) == 1:
            moved.write_text(SEED_MD.replace("ownerRole:", "status: returned\nownerRole:"))
            steps.append("returned")

    clock = iter(range(1000))
    status = wait(workspace, RUN, timeout=100, clock=lambda: float(next(clock)), sleep=sleep)
    assert status.status == "returned" and status.path == f"exceptions/{RUN}.md"


# -- writers never disturb each other -------------------------------------------------------


def test_cleanup_of_one_runid_never_touches_anothers_staged_file(root: Path) -> None:
    workspace = open_workspace(root)
    path = write_packet(root, "a.md", SEED_MD)
    staging = root / ".handoff" / "tmp"
    staging.mkdir(parents=True, exist_ok=True)
    others = [staging / f"{TEMP_PREFIX}{key}+x1.tmp" for key in ("a.b", "a-1", "a_b", "ab")]
    own = staging / f"{TEMP_PREFIX}a+stale.tmp"
    for file in [*others, own]:
        file.write_text("staged")
    replace_file(workspace.state_dir, path, "a", SEED_MD + "more\n")
    assert all(file.exists() for file in others)
    assert not own.exists()  # a killed writer's leftover of the same key is cleaned
    assert load_packet(path).body.endswith("more\n")
