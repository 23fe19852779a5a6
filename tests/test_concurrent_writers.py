"""Concurrent writers in real processes (#8): two `new` for one runId in any forms and queues
give exactly one winner; many decide/route/new on runIds that share prefixes or contain dots
all succeed, never touch each other's staged files, and leave no temporary file behind.

Each worker is a real Python process that imports handoff once, says "ready", then runs one
CLI command per line it reads. The test releases every worker of a trial by writing their lines
at once (a barrier without sleeping) and collects one result line from each.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, seed_json, write_packet

from handoff_cli.packet import load_packet

MARIA = "maria.lopez@example.com"
WORKER = """\
import json, sys
from typer.testing import CliRunner
from handoff_cli.cli import app
runner = CliRunner()
print("ready", flush=True)
for line in iter(sys.stdin.readline, ""):
    result = runner.invoke(app, json.loads(line))
    error = None if result.exception is None or isinstance(result.exception, SystemExit) \\
        else repr(result.exception)
    print(json.dumps([result.exit_code, result.stdout, result.stderr, error]), flush=True)
"""
DEADLINE = 120.0  # seconds for any one trial: a hung worker fails the test, never blocks it


class Workers:
    """N worker processes in one workspace, released together for each trial."""

    def __init__(self, root: Path, count: int) -> None:
        script = root.parent / "worker.py"
        script.write_text(WORKER)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        self.procs = [subprocess.Popen([sys.executable, str(script)], cwd=root, env=env,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, text=True)
                      for _ in range(count)]
        assert self._collect(self.procs) == ["ready"] * count

    def _collect(self, procs: Sequence[subprocess.Popen[str]]) -> list[str]:
        selector = selectors.DefaultSelector()
        for index, proc in enumerate(procs):
            assert proc.stdout is not None
            selector.register(proc.stdout, selectors.EVENT_READ, index)
        lines: dict[int, str] = {}
        while len(lines) < len(procs):
            ready = selector.select(DEADLINE)
            assert ready, f"workers hung: {len(procs) - len(lines)} did not answer"
            for key, _ in ready:
                line = key.fileobj.readline()  # type: ignore[union-attr]
                assert line, "a worker died"
                lines[key.data] = line.rstrip("\n")
                selector.unregister(key.fileobj)
        return [lines[i] for i in range(len(procs))]

    def run(self, commands: Sequence[Sequence[str]]) -> list[tuple[int, str, str, str | None]]:
        """Run commands[i] in worker i, all released at once."""
        procs = self.procs[: len(commands)]
        for proc, command in zip(procs, commands, strict=True):
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(list(command)) + "\n")
        for proc in procs:  # flushed back to back: every worker starts within microseconds
            assert proc.stdin is not None
            proc.stdin.flush()
        return [tuple(json.loads(line)) for line in self._collect(procs)]  # type: ignore[misc]

    def close(self) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.close()
        for proc in self.procs:
            proc.wait(timeout=DEADLINE)


@pytest.fixture
def workers(root: Path) -> Iterator[Any]:
    made: list[Workers] = []

    def start(count: int) -> Workers:
        made.append(Workers(root, count))
        return made[-1]

    yield start
    for group in made:
        group.close()


def stray_files(root: Path) -> list[str]:
    """Staged or temporary files left anywhere in the workspace."""
    staged = root / ".handoff" / "tmp"
    left = [p.name for p in staged.iterdir()] if staged.is_dir() else []
    for folder in (root / "packets", root / "exceptions"):
        left += [p.name for p in folder.iterdir() if p.name.startswith(".")]
    return left


def files_of(root: Path, run_id: str) -> list[str]:
    return sorted(f"{folder}/{run_id}{suffix}" for folder in ("packets", "exceptions")
                  for suffix in (".md", ".json") if (root / folder / f"{run_id}{suffix}").exists())


UNPLANNED = "File read failed: orders.xlsx is locked"  # a runbook exception trigger


def test_two_new_for_one_run_id_at_once_exactly_one_wins(root: Path, workers: Any) -> None:
    """Four `new` for one runId, as md and json, bound for packets/ and exceptions/, released
    at once, many times: one packet, one winner, three exit 3 naming the winner's file."""
    group = workers(4)
    for trial in range(25):
        run_id = f"same.{trial}"
        results = group.run([
            ["new", "customer_exception", "--set", f"runId={run_id}", "--format", fmt, *extra]
            for fmt in ("md", "json")
            for extra in ([], ["--set", f"triggerReason={UNPLANNED}"])
        ])
        assert all(error is None for *_, error in results), results
        codes = sorted(code for code, *_ in results)
        assert codes == [0, 3, 3, 3], results
        winner = next(out.strip() for code, out, _, _ in results if code == 0)
        assert files_of(root, run_id) == [winner]
        for code, _, err, _ in results:
            if code == 3:
                assert err == (f"handoff: error: a packet with runId '{run_id}' already "
                               f"exists: {winner}\n")
    assert stray_files(root) == []


def test_an_explicit_run_id_taken_by_a_file_that_is_no_packet(run: Any, root: Path) -> None:
    """Whatever already holds the name (a dangling symlink, a FIFO), `new` never writes
    through it and says which file it is, relative to the workspace."""
    os.symlink(root / "nowhere.md", root / "packets" / "dangling.md")
    os.mkfifo(root / "exceptions" / "fifo.json")
    for run_id, taken in (("dangling", "packets/dangling.md"), ("fifo", "exceptions/fifo.json")):
        result = run("new", "customer_exception", "--set", f"runId={run_id}")
        assert result.exit_code == 3, result.stderr
        assert result.stderr == (f"handoff: error: a packet with runId '{run_id}' already "
                                 f"exists: {taken}\n")
    assert not (root / "nowhere.md").exists()
    assert stray_files(root) == []


def family(trial: int) -> list[str]:
    """runIds that share prefixes and contain dots (and "cache", the lint cache's old key)."""
    if trial == 0:
        return ["a", "a.b", "a.b.c", "ab", "cache", "a-b"]
    base = f"r{trial}"
    return [base, f"{base}.b", f"{base}.b.c", f"{base}b", f"{base}.b.c.d", f"{base}-b"]


def test_concurrent_writers_on_shared_prefixes_never_disturb_each_other(
        root: Path, workers: Any) -> None:
    """Per trial, at once: decide two packets, route two (their owner is wrong, so route
    rewrites them), create two with `new` and two more with automatic runIds, all on runIds
    that share prefixes. Every command succeeds; every packet ends as it should; no staged or
    temporary file is left and none was removed from under another writer."""
    group = workers(8)
    wrong_owner = SEED_MD.replace("ownerRole: customer-success-lead",
                                  "ownerRole: business-owner")
    for trial in range(12):
        decide_a, route_a, new_a, decide_b, route_b, new_b = family(trial)
        for run_id in (decide_a, decide_b):
            write_packet(root, f"{run_id}.md", SEED_MD.replace(
                "runId: refund-review-2026-05-24-1500", f"runId: {run_id}"))
        write_packet(root, f"{route_a}.md", wrong_owner.replace(
            "runId: refund-review-2026-05-24-1500", f"runId: {route_a}"))
        route_b_file = f"packets/{route_b}.json"
        write_packet(root, f"{route_b}.json", seed_json(runId=route_b,
                                                        ownerRole="business-owner"))
        commands = [
            ["decide", decide_a, "--option", "1", "--as", MARIA, "--note", "a"],
            ["route", f"packets/{route_a}.md", "--format", "json"],
            ["new", "customer_exception", "--set", f"runId={new_a}"],
            ["decide", decide_b, "--option", "offer credit", "--as", MARIA],
            ["route", route_b_file, "--format", "json"],
            ["new", "external_sending", "--set", f"runId={new_b}", "--format", "json"],
            ["new", "data_conflict"],
            ["new", "data_conflict"],
        ]
        results = group.run(commands)
        for command, (code, out, err, error) in zip(commands, results, strict=True):
            assert (code, error) == (0, None), (command, out, err, error)
            if command[0] == "route":  # its changes written, no "not routed" note
                report = json.loads(out)
                assert report["changes"] and report["notes"] == [], report
        assert load_packet(root / "packets" / f"{decide_a}.md").data["decision"]["option"] \
            == "approve refund"
        assert load_packet(root / "packets" / f"{decide_b}.md").data["decision"]["option"] \
            == "offer credit"
        for path in (root / "packets" / f"{route_a}.md", root / route_b_file):
            assert load_packet(path).data["ownerRole"] == "customer-success-lead"
        assert files_of(root, new_a) == [f"packets/{new_a}.md"]
        assert files_of(root, new_b) == [f"packets/{new_b}.json"]
        automatic = [results[6][1].strip(), results[7][1].strip()]
        assert len(set(automatic)) == 2 and all((root / p).is_file() for p in automatic)
        assert stray_files(root) == []
    for path in (root / "packets").iterdir():  # every file is whole and loads
        assert load_packet(path).run_id == path.stem


def test_staging_keys_never_reach_into_each_other() -> None:
    """The cleanup of key K removes only `K+*` staged files: no key holds "+", so K's glob can
    never match another key's files; a key that is not a runId starts with "_", which no runId
    does (the lint cache stages under "_cache", never under a runId "cache")."""
    from handoff_cli.packet import RUN_ID
    from handoff_cli.store import KEY_END, lock_key

    assert lock_key("a.b", Path("x.md")) == "a.b"
    assert lock_key("bad\n", Path("ok.md")) == "ok"
    hostile = [lock_key(None, Path(name)) for name in ("x+y.md", "x+.md", "+.md", "é.json",
                                                       "-x.md", "a" * 250 + ".md")]
    assert all(KEY_END not in key and key.startswith("_") and len(key) == 33 for key in hostile)
    assert len(set(hostile)) == len(hostile)
    assert not RUN_ID.match("_cache")


def test_errors_name_packets_relative_to_the_workspace(run: Any, root: Path) -> None:
    """Given an absolute path, errors that name a packet still name it relative to the
    workspace, and never print the workspace's own absolute path."""
    packet = write_packet(root, "r-1.md", SEED_MD.replace(
        "runId: refund-review-2026-05-24-1500", "runId: r-1"))
    drafts = root / "drafts"
    drafts.mkdir()
    draft = drafts / "d-1.md"
    draft.write_text(SEED_MD.replace("runId: refund-review-2026-05-24-1500", "runId: d-1"))
    checks = [
        (["decide", str(draft), "--option", "1", "--as", MARIA], 4,
         "drafts/d-1.md: it is not in this workspace's queue (packets/ or exceptions/)"),
        (["decide", str(packet), "--option", "1", "--as", "mallory@example.com"], 4,
         "packets/r-1.md: 'mallory@example.com' is not a member of"),
        (["convert", str(packet), "--to", "md"], 2, "packets/r-1.md: it is already a .md"),
    ]
    (root / "packets" / "r-1.json").symlink_to(root / "elsewhere.json")
    checks.append((["convert", str(packet), "--to", "json"], 3,
                   "packets/r-1.json: already exists; refusing to overwrite it"))
    for args, code, message in checks:
        result = run(*args)
        assert result.exit_code == code, (args, result.stderr)
        assert result.stderr.startswith(f"handoff: error: {message}"), result.stderr
        assert str(root) not in result.stderr and str(root.resolve()) not in result.stderr
