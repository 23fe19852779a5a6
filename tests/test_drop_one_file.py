"""Property: any single thing dropped into a clean workspace's queue (random bytes, frontmatter
with values at the edges, a file over the size bound, a FIFO, a dangling symlink, a symlink out
of the workspace, a folder, a name full of escape sequences) never stops the queue: lint, list,
stats, route and route --escalate finish with exit 0 or 1, promptly, every good packet is still
listed and linted as before, and the dropped thing is at most one row of the list and has
findings of its own only (one, when it does not load)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SEED_MD, seed_json
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from handoff_cli.api import PacketInput, create_packet, decide, init_workspace, route_packets
from handoff_cli.cli import app
from handoff_cli.workspace import open_workspace

MARIA = "maria.lopez@example.com"
GOOD_RUNS = ("refund-review-2026-05-24-1500", "refund-json-2026-05-24-1600",
             "refund-decided-2026-05-24-1700")
BOUND = 4096  # lint.maxFileBytes of the workspace, so a file "over the bound" stays small
DEADLINE = 30.0  # seconds one command may take before it counts as blocked
COMMANDS = (("lint", "--format", "json"), ("list", "--format", "json"),
            ("list", "--exceptions", "--format", "json"), ("stats",), ("route",),
            ("route", "--escalate"))
SECRET = "SECRET-OUTSIDE-THE-WORKSPACE"


# -- the clean workspace ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo-like workspace: open, JSON and decided packets, and an exception-queue item,
    already routed (so route has nothing to do for them)."""
    root = tmp_path_factory.mktemp("clean") / "ws"
    init_workspace(root)
    config = root / "handoff.yaml"
    config.write_text(config.read_text().replace("maxFileBytes: 1048576",
                                                 f"maxFileBytes: {BOUND}"))
    evidence = root / "workspace" / "refunds" / "2026-05-24"
    evidence.mkdir(parents=True)
    for name in ("orders.xlsx", "customer-8241.md", "refund-policy.md"):
        (evidence / name).write_text(f"evidence {name}\n", encoding="utf-8")
    packets = root / "packets"
    (packets / f"{GOOD_RUNS[0]}.md").write_text(SEED_MD, encoding="utf-8")
    (packets / f"{GOOD_RUNS[1]}.json").write_text(seed_json(runId=GOOD_RUNS[1]),
                                                  encoding="utf-8")
    (packets / f"{GOOD_RUNS[2]}.md").write_text(SEED_MD.replace(GOOD_RUNS[0], GOOD_RUNS[2]),
                                                encoding="utf-8")
    workspace = open_workspace(root)
    route_packets(workspace)
    decide(workspace, GOOD_RUNS[2], "offer credit", identity=MARIA)
    create_packet(workspace, "data_conflict", PacketInput(values={
        "runId": "read-fail-2026-05-24", "triggerReason": "file read failed: orders.xlsx",
        "agentGoal": "Reconcile the refund ledger"}), exception=True)
    (root.parent / "outside.md").write_text(SEED_MD.replace("The customer", SECRET))
    return root


def run(root: Path, *args: str) -> Any:
    """One command in this process, with a deadline: a blocking open fails the test."""
    with deadline(DEADLINE):
        return CliRunner().invoke(app, ["-w", str(root), *args])


class Blocked(BaseException):
    """Raised in a command that blocks: a BaseException, so no handler in it can swallow it
    (TimeoutError is an OSError, which the loader turns into a finding)."""


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    def expired(signum: int, frame: Any) -> None:
        raise Blocked(f"the command blocked for {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outputs(root: Path) -> dict[tuple[str, ...], Any]:
    """Every queue command's result; each must finish with 0 or 1 and no internal error."""
    results = {}
    for command in COMMANDS:
        result = run(root, *command)
        assert result.exit_code in (0, 1), (command, result.exit_code, result.output,
                                            result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            command, repr(result.exception))
        assert "internal error" not in result.output and "Traceback" not in result.output
        results[command] = result
    return results


def queue_state(root: Path) -> dict[str, Any]:
    """What a reviewer sees of the good packets: their lint findings and list rows."""
    found = outputs(root)
    findings = json.loads(found[COMMANDS[0]].stdout)
    rows = [*json.loads(found[COMMANDS[1]].stdout), *json.loads(found[COMMANDS[2]].stdout)]
    return {"findings": findings, "rows": rows}


@pytest.fixture(scope="module")
def baseline(clean: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    copy = tmp_path_factory.mktemp("baseline") / "ws"
    shutil.copytree(clean, copy, symlinks=True)
    state = queue_state(copy)
    assert len(state["rows"]) == 4 and {r["runId"] for r in state["rows"]} >= set(GOOD_RUNS)
    return state


# -- what gets dropped --------------------------------------------------------------------------

EDGE_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**30, max_value=10**80),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.sampled_from(["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59",
                     "2026-02-30T25:61:00Z", "\x1b[2J\x1b]8;;http://x\x07", "\u202etxt",
                     "$runId", "../../etc/passwd", "/dev/zero", "decided", "open", "-" * 60]))
EDGE_VALUES = st.recursive(EDGE_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12)
KEYS = st.one_of(st.sampled_from([
    "runId", "handoffType", "agentGoal", "triggerReason", "evidence", "options", "ownerRole",
    "status", "createdAt", "dueBy", "decision", "history", "escalatedTo", "outcome",
    "agentNextActionAfterDecision", "amount"]), st.text(max_size=15))
FRONTMATTER = st.dictionaries(KEYS, EDGE_VALUES, max_size=10)
NAME_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"),
                    min_size=1, max_size=20)
KINDS = ("bytes", "yaml", "json", "huge", "fifo", "dangling", "outside", "folder", "socket",
         "device")


def yaml_text(data: dict[Any, Any], body: str) -> str:
    try:
        dumped = yaml.safe_dump(data, allow_unicode=True, default_flow_style=False)
    except (yaml.YAMLError, ValueError, OverflowError):
        dumped = "{}\n"
    return f"---\n{dumped}---\n{body}"


def json_text(data: dict[Any, Any]) -> str:
    def clean(value: Any) -> Any:  # keys must be text, as JSON has it; NaN stays (H109)
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(data), ensure_ascii=False)


def drop(queue: Path, kind: str, name: str, payload: Any) -> Path:
    """Put one thing named `name` into `queue`; return its path."""
    path = queue / name
    if kind == "bytes":
        path.write_bytes(payload)
    elif kind == "yaml":
        path.write_text(yaml_text(payload, "Body\n"), encoding="utf-8", errors="surrogatepass")
    elif kind == "json":
        path.write_text(json_text(payload), encoding="utf-8", errors="surrogatepass")
    elif kind == "huge":
        path.write_text(SEED_MD + "x" * (BOUND + 1), encoding="utf-8")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dangling":
        path.symlink_to(queue / "nowhere" / "gone.md")
    elif kind == "outside":
        path.symlink_to(queue.parent.parent / "outside.md")
    elif kind == "folder":
        path.mkdir()
    elif kind == "device":
        path.symlink_to("/dev/zero")
    elif kind == "socket":
        with socket.socket(socket.AF_UNIX) as server:
            here = os.getcwd()
            os.chdir(queue)  # a socket path must be short: bind by the relative name
            try:
                server.bind(name)
            finally:
                os.chdir(here)
    return path


# -- the property ----------------------------------------------------------------------------


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), queue=st.sampled_from(["packets", "exceptions"]),
       stem=st.one_of(st.just("dropped"), NAME_TEXT),
       suffix=st.sampled_from([".md", ".json"]),
       payload=st.one_of(st.binary(max_size=600), FRONTMATTER))
@example(kind="fifo", queue="packets", stem="pipe", suffix=".md", payload=b"")
@example(kind="outside", queue="exceptions", stem="secret", suffix=".md", payload=b"")
@example(kind="huge", queue="packets", stem="big", suffix=".md", payload=b"")
@example(kind="dangling", queue="packets", stem="gone", suffix=".json", payload=b"")
@example(kind="folder", queue="packets", stem="folder", suffix=".md", payload=b"")
@example(kind="socket", queue="packets", stem="sock", suffix=".md", payload=b"")
@example(kind="bytes", queue="packets", stem="\x1b[31mred\n\rline\u202e", suffix=".md",
         payload=b"---\nrunId: \x1b[2J\n---\n")
@example(kind="yaml", queue="packets", stem="edge", suffix=".md",
         payload={"runId": GOOD_RUNS[0], "status": "decided", "dueBy": "9999-12-31T23:59:59-23:59",
                  "amount": 10**80, "createdAt": "0001-01-01T00:00:00+23:59"})
@example(kind="json", queue="exceptions", stem="edge", suffix=".json",
         payload={"runId": "x", "amount": math.inf, "triggerReason": "file read failed"})
def test_one_dropped_file_never_stops_the_queue(clean: Path, baseline: dict[str, Any],
                                                kind: str, queue: str, stem: str, suffix: str,
                                                payload: Any) -> None:
    if kind in ("bytes",) and not isinstance(payload, bytes):
        payload = yaml_text(payload, "").encode("utf-8", "surrogatepass")
    if kind in ("yaml", "json") and not isinstance(payload, dict):
        payload = {"runId": payload.decode("latin-1")}
    name = f"{stem}{suffix}"
    if name.startswith(".") or len(name.encode("utf-8")) > 100 or \
            any(name.startswith(run) for run in GOOD_RUNS) or name == "read-fail-2026-05-24.md":
        name = f"dropped{suffix}"  # hidden, too long, or a good packet's own name
    scratch = Path(tempfile.mkdtemp(prefix="drop-"))
    try:
        root = scratch / "ws"
        shutil.copytree(clean, root, symlinks=True)
        shutil.copy(clean.parent / "outside.md", scratch / "outside.md")
        good_bytes = {path: path.read_bytes() for path in
                      [*(root / "packets").rglob("*.*"), *(root / "exceptions").rglob("*.*")]}
        dropped = drop(root / queue, kind, name, payload)
        shown = f"{queue}/{name}"
        state = queue_state(root)
        check_good_packets_unchanged(baseline, state, shown)
        check_dropped_is_at_most_one_row(state, root, dropped, shown)
        for path, data in good_bytes.items():  # route and --escalate left the good ones alone
            assert path.read_bytes() == data, path
        assert (scratch / "outside.md").read_text() == SEED_MD.replace("The customer", SECRET)
        assert SECRET not in json.dumps(state)  # a link out of the workspace is never read
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def check_good_packets_unchanged(baseline: dict[str, Any], state: dict[str, Any],
                                 shown: str) -> None:
    """Every good packet is listed with its row and linted with its findings as before (a
    dropped file that claims a good packet's runId adds H601, duplicate runId, to both)."""
    def key(row: dict[str, Any]) -> str:
        return str(row["path"])

    rows = {key(r): r for r in state["rows"] if r["path"] != shown}
    for before in baseline["rows"]:
        after = rows.get(key(before))
        assert after is not None, f"{before['path']} is no longer listed"
        assert {k: v for k, v in after.items() if k != "lintErrors"} == \
            {k: v for k, v in before.items() if k != "lintErrors"}
    others = [f for f in state["findings"] if f["path"] != shown and f["rule"] != "H601"]
    assert others == [f for f in baseline["findings"] if f["rule"] != "H601"]


def check_dropped_is_at_most_one_row(state: dict[str, Any], root: Path, dropped: Path,
                                     shown: str) -> None:
    mine = [r for r in state["rows"] if r["path"] == shown]
    assert len(mine) <= 1, mine
    findings = [f for f in state["findings"] if f["path"] == shown]
    if mine and mine[0]["status"] == "invalid":
        # A file that does not load is one finding, the one its row names.
        assert len(findings) == 1, findings
        assert mine[0]["problem"].startswith(findings[0]["rule"])
    if dropped.is_symlink() or not dropped.is_file():
        # Not a regular file (or a link): at most its one H101 finding, never read.
        assert [f["rule"] for f in findings] in ([], ["H101"]), findings
