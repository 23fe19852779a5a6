"""`handoff decide`: scripted and interactive decisions, returns, identity, conflicts, and the
guarantees under concurrency and kill -9 (real subprocesses)."""

from __future__ import annotations

import json
import os
import pty
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, write_packet
from test_review import HAND_WRITTEN, HAND_WRITTEN_DECIDED

from handoff_cli.packet import content_digest, load_packet

RUN = "refund-review-2026-05-24-1500"
MARIA = "maria.lopez@example.com"


@pytest.fixture
def packet(root: Path) -> Path:
    return write_packet(root, f"{RUN}.md", SEED_MD)



def folder_names(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def test_scripted_decision(run: Any, packet: Path) -> None:
    result = run("decide", RUN, "--option", "offer credit", "--note", "200 EUR", "--as", MARIA)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{RUN}: decided 'offer credit' by {MARIA}\n"
    data = load_packet(packet).data
    assert data["status"] == "decided"
    decision = data["decision"]
    assert (decision["option"], decision["by"], decision["note"]) == ("offer credit", MARIA,
                                                                      "200 EUR")
    assert decision["at"].endswith("Z") and "T" in decision["at"]
    assert data["history"][-1]["event"] == "decided"
    assert run("lint", f"packets/{RUN}.md").exit_code == 0


def test_cli_decide_keeps_hand_written_bytes(run: Any, root: Path) -> None:
    path = write_packet(root, f"{RUN}.md", HAND_WRITTEN)
    digest = content_digest(load_packet(path))
    result = run("decide", RUN, "-o", "offer credit", "-n", "credit of 200 EUR", "--as", MARIA)
    assert result.exit_code == 0, result.output
    stamp = load_packet(path).data["decision"]["at"]
    expected = HAND_WRITTEN_DECIDED.replace("DIGEST", digest).replace(
        "2026-05-24T16:00:00Z", stamp)
    assert path.read_bytes() == expected.encode()


def test_no_terminal_and_no_option_is_exit_2(run: Any, packet: Path) -> None:
    result = run("decide", RUN, "--as", MARIA)
    assert result.exit_code == 2
    assert "no terminal" in result.stderr and "--option LABEL" in result.stderr
    assert packet.read_text() == SEED_MD


def test_non_member_is_exit_4_and_nothing_written(run: Any, packet: Path) -> None:
    result = run("decide", RUN, "--option", "1", "--as", "mallory@example.com")
    assert result.exit_code == 4
    assert "'mallory@example.com' is not a member of 'customer-success-lead'" in result.stderr
    assert packet.read_text() == SEED_MD
    assert folder_names(packet) == [packet.name]


def test_non_member_is_refused_before_any_prompt(run: Any, packet: Path, terminal: None) -> None:
    result = run("decide", RUN, "--as", "mallory@example.com", input="1\n\ny\n")
    assert result.exit_code == 4 and "Which option" not in result.output
    assert packet.read_text() == SEED_MD


def test_identity_comes_from_handoff_user_then_git(run: Any, packet: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[user]\n\temail = sam.okafor@example.com\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HANDOFF_USER", "mallory@example.com")
    assert run("decide", RUN, "--option", "1").exit_code == 4  # HANDOFF_USER before git
    monkeypatch.delenv("HANDOFF_USER")
    result = run("decide", RUN, "--option", "1")  # git config user.email
    assert result.exit_code == 0, result.output
    assert load_packet(packet).data["decision"]["by"] == "sam.okafor@example.com"


def test_no_identity_at_all_is_refused(run: Any, packet: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "none"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    result = run("decide", RUN, "--option", "1")
    assert result.exit_code == 4 and "--as" in result.stderr


def test_already_decided_is_exit_3(run: Any, packet: Path) -> None:
    assert run("decide", RUN, "--option", "1", "--as", MARIA).exit_code == 0
    decided = packet.read_bytes()
    result = run("decide", RUN, "--option", "2", "--as", "sam.okafor@example.com")
    assert result.exit_code == 3
    assert f"already decided by {MARIA}" in result.stderr
    assert packet.read_bytes() == decided


def test_unknown_option_is_exit_2(run: Any, packet: Path) -> None:
    result = run("decide", RUN, "--option", "refund twice", "--as", MARIA)
    assert result.exit_code == 2
    assert "1. 'approve refund', 2. 'offer credit', 3. 'escalate to manager'" in result.stderr


def test_digest_from_show_guards_a_scripted_decision(run: Any, packet: Path) -> None:
    seen = json.loads(run("show", RUN, "--format", "json").stdout)["digest"]
    packet.write_text(SEED_MD.replace("1,240.00", "12,400.00"))
    result = run("decide", RUN, "--option", "1", "--digest", seen, "--as", MARIA)
    assert result.exit_code == 3 and "changed while deciding" in result.stderr
    assert "status" not in load_packet(packet).data


def test_interactive_decision(run: Any, packet: Path, terminal: None) -> None:
    result = run("decide", RUN, "--as", MARIA, input="9\n2\nlooks fair\ny\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("Evidence (3)") < out.index("Which option do you choose?")  # view, prompt
    assert "Type a number from 1 to 3 or a label" in out
    assert f"Record 'offer credit' for {RUN} as maria.lopez@example.com?" in out
    decision = load_packet(packet).data["decision"]
    assert (decision["option"], decision["note"]) == ("offer credit", "looks fair")


def test_interactive_decline_writes_nothing(run: Any, packet: Path, terminal: None) -> None:
    result = run("decide", RUN, "--as", MARIA, input="1\n\nn\nq\n")
    assert result.exit_code == 1 and "Nothing recorded." in result.stderr
    assert "Nothing recorded yet; choose again." in result.stderr
    assert packet.read_text() == SEED_MD


def test_declining_goes_back_to_the_options_with_the_note_kept(run: Any, packet: Path,
                                                                terminal: None) -> None:
    result = run("decide", RUN, "--as", MARIA, input="1\ncredit is fairer\nn\n2\n\ny\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("Which option do you choose?") == 2
    assert "Enter keeps the one shown" in result.output
    assert "[credit is fairer]" in result.output  # offered as the default
    decision = load_packet(packet).data["decision"]
    assert (decision["option"], decision["note"]) == ("offer credit", "credit is fairer")


@pytest.mark.parametrize("answer", ["q", "s"])
def test_quit_or_skip_in_decide_records_nothing(run: Any, packet: Path, terminal: None,
                                                answer: str) -> None:
    result = run("decide", RUN, "--as", MARIA, input=f"{answer}\n")
    assert result.exit_code == 1 and "Nothing recorded." in result.stderr
    assert packet.read_text() == SEED_MD


def test_the_prompt_takes_a_label_and_r_returns(run: Any, packet: Path, terminal: None) -> None:
    result = run("decide", RUN, "--as", MARIA, input="Escalate To Manager\n\ny\n")
    assert result.exit_code == 0, result.output
    assert load_packet(packet).data["decision"]["option"] == "escalate to manager"
    packet.write_text(SEED_MD)
    result = run("decide", RUN, "--as", MARIA, input="r\n\norderFile, policy\nmissing\ny\n")
    assert result.exit_code == 0, result.output
    assert "Name at least one field" in result.output
    data = load_packet(packet).data
    assert data["status"] == "returned"
    assert data["decision"]["missing"] == ["orderFile", "policy"]
    assert data["decision"]["note"] == "missing"


def test_end_of_input_at_the_prompt_is_quit(run: Any, packet: Path, terminal: None) -> None:
    result = run("decide", RUN, "--as", MARIA, input="")
    assert result.exit_code == 1 and "Nothing recorded." in result.stderr
    assert "Traceback" not in result.output


def test_changed_while_the_reviewer_was_deciding(run: Any, packet: Path, terminal: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from handoff_cli.cli.prompting import Answer

    def agent_edits_then_answer(view: Any, identity: str, **kwargs: Any) -> Answer:
        packet.write_text(SEED_MD.replace("sets exception precedent", "no risk at all"))
        return Answer("decide", "approve refund")

    monkeypatch.setattr("handoff_cli.cli.prompting.prompt_decision", agent_edits_then_answer)
    result = run("decide", RUN, "--as", MARIA)
    assert result.exit_code == 3
    assert "changed while deciding" in result.stderr
    assert "status" not in load_packet(packet).data


def test_return_to_the_agent(run: Any, packet: Path) -> None:
    result = run("decide", RUN, "--return", "--missing", "shippingProof", "--missing",
                 "orderFile", "--note", "need the courier's scan", "--as", MARIA)
    assert result.exit_code == 0, result.output
    assert "returned to the agent (missing: shippingProof, orderFile)" in result.stdout
    data = load_packet(packet).data
    assert data["status"] == "returned"
    assert data["decision"]["missing"] == ["shippingProof", "orderFile"]
    assert data["decision"]["note"] == "need the courier's scan"
    assert run("lint", f"packets/{RUN}.md").exit_code == 0
    assert run("decide", RUN, "--option", "1", "--as", MARIA).exit_code == 3


def test_interactive_return_asks_what_is_missing(run: Any, packet: Path,
                                                 terminal: None) -> None:
    result = run("decide", RUN, "--return", "--as", MARIA, input="orderFile, policy\n\ny\n")
    assert result.exit_code == 0, result.output
    assert load_packet(packet).data["decision"]["missing"] == ["orderFile", "policy"]


@pytest.mark.parametrize("args", [
    ("--return",),  # no terminal to ask what is missing
    ("--return", "--option", "1", "--missing", "x"),
    ("--missing", "orderFile", "--option", "1"),
])
def test_return_usage_errors(run: Any, packet: Path, args: tuple[str, ...]) -> None:
    result = run("decide", RUN, "--as", MARIA, *args)
    assert result.exit_code == 2, result.output
    assert packet.read_text() == SEED_MD


# -- real processes: a terminal, concurrency, kill -9 ------------------------------------------


def handoff(root: Path, *args: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HANDOFF_WORKSPACE": str(root), "NO_COLOR": "1", "COLUMNS": "100",
           "PAGER": "cat"}
    env.pop("HANDOFF_USER", None)
    return subprocess.Popen([sys.executable, "-m", "handoff_cli", *args], env=env, **kwargs)


def test_interactive_on_a_real_terminal(root: Path, packet: Path) -> None:
    master, slave = pty.openpty()
    process = handoff(root, "decide", RUN, "--as", MARIA, stdin=slave, stdout=slave,
                      stderr=slave)
    os.close(slave)
    output = b""

    def read_until(marker: bytes) -> None:
        nonlocal output
        deadline = time.monotonic() + 20
        while marker not in output and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if ready:
                try:
                    output += os.read(master, 4096)
                except OSError:
                    break
        assert marker in output, output.decode(errors="replace")

    read_until(b"Which option do you choose?")
    os.write(master, b"3\n")
    read_until(b"Add a note for the agent")
    os.write(master, b"over my limit\n")
    read_until(b"[y/N]")
    os.write(master, b"y\n")
    assert process.wait(timeout=20) == 0
    os.close(master)
    decision = load_packet(packet).data["decision"]
    assert (decision["option"], decision["note"]) == ("escalate to manager", "over my limit")


def test_twelve_concurrent_deciders_exactly_one_wins(root: Path, packet: Path) -> None:
    members = [MARIA, "sam.okafor@example.com"]
    processes = [handoff(root, "decide", RUN, "--option", str(1 + i % 3), "--as",
                         members[i % 2], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for i in range(12)]
    results = [(p.wait(timeout=60), p.stderr.read().decode()) for p in processes]  # type: ignore[union-attr]
    codes = sorted(code for code, _ in results)
    assert codes == [0] + [3] * 11, results
    assert all("already decided" in err for code, err in results if code == 3)
    data = load_packet(packet).data
    assert data["status"] == "decided"
    assert [e["event"] for e in data["history"]] == ["decided"]
    assert folder_names(packet) == [packet.name]
    assert list((root / ".handoff" / "tmp").iterdir()) == []


WRITER = """
import sys
from handoff_cli.store import replace_file
from handoff_cli.workspace import open_workspace
from pathlib import Path
workspace, path = open_workspace(Path(sys.argv[1])), Path(sys.argv[2])
texts = [Path(sys.argv[3]).read_text(), Path(sys.argv[4]).read_text()]
print("ready", flush=True)
i = 0
while True:
    replace_file(workspace.state_dir, path, "run", texts[i % 2])
    i += 1
"""


def test_kill_9_mid_write_leaves_old_or_new_and_no_stray_file(root: Path, packet: Path,
                                                              tmp_path: Path) -> None:
    old = SEED_MD + "padding\n" * 20000  # large, so that kills land mid-write
    new = old.replace("open", "decided")
    (tmp_path / "old").write_text(old)
    (tmp_path / "new").write_text(new)
    packet.write_text(old)
    rng = random.Random(7)
    for _ in range(6):
        process = subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(packet),
                                    str(tmp_path / "old"), str(tmp_path / "new")],
                                   stdout=subprocess.PIPE)
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.01, 0.15))  # a random moment of a running writer
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert packet.read_text() in (old, new)
        assert folder_names(packet) == [packet.name]


def test_kill_9_during_decide(root: Path, packet: Path) -> None:
    rng = random.Random(11)
    for _ in range(4):
        packet.write_text(SEED_MD)
        process = handoff(root, "decide", RUN, "--option", "1", "--as", MARIA,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        data = load_packet(packet).data  # parses: old or new, never torn
        assert data.get("status", "open") in ("open", "decided")
        assert folder_names(packet) == [packet.name]
