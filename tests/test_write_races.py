"""Lost-update trials with a real outside writer: a separate process rewrites a packet again and
again (write-then-rename, or plain in-place writes) while decide, return, close and route write
it, and an agent's locked edit races a decide. After every trial the other writer's last text
survives (verbatim, or with the command's change applied on top of exactly it) or the command
refused with exit 3 and the file is theirs; never silently overwritten, never torn."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, write_packet
from typer.testing import CliRunner

from handoff_cli import store
from handoff_cli.cli import app
from handoff_cli.packet import load_packet

RUN = "refund-review-2026-05-24-1500"
MARIA = "maria.lopez@example.com"
TRIALS = 24  # per command and kind of write; each trial is one race


class Writer:
    """The outside writer process (tests/race_writer.py), driven over its stdin and stdout."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("race_writer.py"))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8")

    def send(self, **request: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()

    def answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the writer process died"
        data: dict[str, Any] = json.loads(line)
        return data

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


@pytest.fixture
def writer() -> Iterator[Writer]:
    process = Writer()
    try:
        yield process
    finally:
        process.close()


def marker(text: str) -> str | None:
    """The outside writer's marker in a packet's text (None: a text it never wrote)."""
    for word in text.split():
        if word.startswith("MARK"):
            return text[text.index("MARK"):].split(".", 1)[0]
    return None


# What each command changes, so that a file can be told apart: theirs, or ours on top of theirs.
COMMANDS: dict[str, tuple[list[str], str]] = {
    "decide": (["decide", RUN, "--option", "1", "--as", MARIA, "--yes"], "status: decided"),
    "return": (["decide", RUN, "--return", "--missing", "orderFile", "--as", MARIA, "--yes"],
               "status: returned"),
    "close": (["close", RUN, "--outcome", "credit sent"], "status: closed"),
    "route": (["route"], "ownerRole: customer-success-lead"),
}


def base_text(root: Path, command: str) -> str:
    """The packet before the race: open (wrongly owned for route), or decided for close."""
    if command == "route":
        return SEED_MD.replace("ownerRole: customer-success-lead", "ownerRole: data-owner")
    if command != "close":
        return SEED_MD
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    result = CliRunner().invoke(app, ["-w", str(root), *COMMANDS["decide"][0]])
    assert result.exit_code == 0, result.output
    return path.read_text(encoding="utf-8")


def one_trial(root: Path, writer: Writer, command: str, mode: str, base: str, tag: str,
              in_window: bool, rng: random.Random,
              monkeypatch: pytest.MonkeyPatch) -> str:
    """Race the command against the writer once; check the file; return the outcome."""
    path = write_packet(root, f"{RUN}.md", base)
    stop = root.parent / f"stop-{tag}"
    request = {"op": "write", "path": str(path), "mode": mode, "base": base, "tag": tag,
               "most": rng.choice([1, 3, 20, 200, 2000]), "stop": str(stop)}
    started: list[bool] = []
    if in_window:
        # Unleash the writer at the moment the command, holding the lock, starts its final
        # check-and-replace, and go on once its first write is complete: it keeps writing
        # through the check and the swap.
        real = store.replace_file
        first = root.parent / f"first-{tag}"
        request["first"] = str(first)

        def unleash(*args: Any, **kwargs: Any) -> Any:
            if not started:
                started.append(True)
                writer.send(**request)
                while not first.exists():  # a file, not a clock: no sleeping
                    assert writer.process.poll() is None, "the writer process died"
            return real(*args, **kwargs)

        monkeypatch.setattr(store, "replace_file", unleash)
    else:
        writer.send(**request)
        started.append(True)
    result = CliRunner().invoke(app, ["-w", str(root), *COMMANDS[command][0]])
    monkeypatch.undo()
    stop.touch()
    last = writer.answer()["last"] if started else None
    final = path.read_text(encoding="utf-8")
    code = result.exit_code
    assert code in (0, 1, 2, 3), (code, result.output)
    assert "internal error" not in result.output and "Traceback" not in result.output
    load_packet(path)  # never torn: the final file is a whole packet
    change = COMMANDS[command][1]
    if last is None:  # the writer never wrote: the command simply succeeded
        assert code == 0 and change in final, result.output
        return "ours (no race)"
    if "changed while deciding" in result.output:  # route notes it and goes on (exit 0)
        assert final == last and code == (0 if command == "route" else 3), result.output
        return "refused, theirs kept"
    if final == last:  # theirs survived verbatim: written after ours, or ours refused
        return "theirs written after ours" if code == 0 else f"exit {code}, theirs kept"
    # Otherwise the file must be the command's change applied to exactly their last text.
    assert code == 0, (code, result.output, final)
    assert marker(final) == marker(last), "the outside writer's last write was lost"
    assert change in final and change not in last
    return "ours on top of theirs"


@pytest.mark.parametrize("mode", ["rename", "inplace"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_outside_writer_racing_a_command_never_loses_its_write(
        root: Path, writer: Writer, command: str, mode: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(f"{command}-{mode}")
    base = base_text(root, command)
    outcomes: Counter[str] = Counter()
    for trial in range(TRIALS):
        outcomes[one_trial(root, writer, command, mode, base, f"t{trial}", trial % 2 == 1,
                           rng, monkeypatch)] += 1
    # Half the trials unleash the writer inside the command's final window, after its first
    # write: those are refused, so the check that keeps their write is exercised every time.
    assert outcomes["refused, theirs kept"] >= TRIALS // 2, outcomes


def test_an_agents_edit_racing_a_decide_one_wins_cleanly(root: Path, writer: Writer) -> None:
    """The agent's locked edit (update_packet, in its own process) and a decide, at once."""
    outcomes: Counter[str] = Counter()
    for trial in range(TRIALS):
        path = write_packet(root, f"{RUN}.md", SEED_MD)
        value = f"Refund decision, version {trial}"
        go = root.parent / f"go-{trial}"
        writer.send(op="edit", root=str(root), runId=RUN, value=value, go=str(go))
        go.touch()
        decided = CliRunner().invoke(app, ["-w", str(root), *COMMANDS["decide"][0]])
        edit = writer.answer()
        data = load_packet(path).data
        edited = data.get("agentGoal") == value
        assert decided.exit_code in (0, 3) and edit["exit"] in (0, 3), (decided.output, edit)
        assert decided.exit_code == 0 or edit["exit"] == 0  # someone always wins
        assert (data.get("status") == "decided") == (decided.exit_code == 0)
        assert edited == (edit["exit"] == 0)  # an edit reported done is in the file
        if decided.exit_code == 0 and edited:
            # Both: the edit came first and the decision was made on the edited packet.
            events = [e["event"] for e in data["history"]]
            assert events[-2:] == ["edited", "decided"]
        if edit["exit"] == 3:
            assert "already decided" in edit["error"] or "changed" in edit["error"]
        outcomes[f"decide {decided.exit_code}, edit {edit['exit']}"] += 1
    assert sum(outcomes.values()) == TRIALS


@pytest.mark.parametrize("mode", ["rename", "inplace"])
def test_a_write_between_the_swap_and_the_swap_back_is_kept(
        root: Path, writer: Writer, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The narrowest window: the other writer replaces the packet just before decide's atomic
    exchange (so decide must give their file back) and writes again just after it. Their
    newer write must be the one that stays."""
    if not store._exchange(root / "handoff.yaml", root / "handoff.yaml"):
        pytest.skip("this platform has no atomic exchange (renameat2)")
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    first, gate, stop = root.parent / "first", root.parent / "gate", root.parent / "stop"
    real = store._exchange
    calls: list[int] = []

    def racing(one: Path, two: Path) -> bool:
        calls.append(1)
        if len(calls) == 1:  # decide's swap of its staged file: the writer strikes around it
            writer.send(op="write", path=str(path), mode=mode, base=SEED_MD, tag="w",
                        most=2, stop=str(stop), first=str(first), gate=str(gate))
            while not first.exists():
                assert writer.process.poll() is None
            swapped = real(one, two)
            gate.touch()  # now their second (and last) write, after the swap, before the swap back
            answer = writer.answer()
            assert answer["writes"] == 2
            racing.last = answer["last"]  # type: ignore[attr-defined]
            return swapped
        return real(one, two)

    monkeypatch.setattr(store, "_exchange", racing)
    result = CliRunner().invoke(app, ["-w", str(root), *COMMANDS["decide"][0]])
    monkeypatch.undo()
    assert result.exit_code == 3 and "changed while deciding" in result.output, result.output
    assert path.read_text(encoding="utf-8") == racing.last  # type: ignore[attr-defined]
    assert not list((root / ".handoff" / "tmp").iterdir())
