"""Shell completion from the workspace: driven through Typer's completion entry point in a
real subprocess (bash, zsh and fish protocols) and through a real bash."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SEED_MD, seed_json, write_packet

RUN = "refund-review-2026-05-24-1500"
BIN = Path(sys.executable).parent


def complete(cwd: Path, line: str, shell: str = "bash",
             **env: str) -> subprocess.CompletedProcess[str]:
    """What the shell's completion function asks `handoff` for, for the command line `line`
    (the word under the cursor is the last one; a trailing space starts a new word)."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    full = {**os.environ, "_HANDOFF_COMPLETE": f"complete_{shell}", **env}
    if shell == "bash":
        full.update(COMP_WORDS=line, COMP_CWORD=str(cword))
    else:
        full.update(_TYPER_COMPLETE_ARGS=line, _TYPER_COMPLETE_FISH_ACTION="get-args")
    return subprocess.run([sys.executable, "-m", "handoff_cli"], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=60, check=False)


def bash_words(cwd: Path, line: str, **env: str) -> list[str]:
    done = complete(cwd, line, **env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return [word for word in done.stdout.splitlines() if word]


@pytest.fixture
def queue(root: Path) -> Path:
    write_packet(root, f"{RUN}.md", SEED_MD)
    write_packet(root, "quote-77.json", seed_json(runId="quote-77"))
    write_packet(root, "unplanned-1.md", SEED_MD.replace(RUN, "unplanned-1"), "exceptions")
    return root


def test_run_ids_from_both_queues(queue: Path) -> None:
    assert bash_words(queue, "handoff show ") == ["quote-77", RUN, "unplanned-1"]
    assert bash_words(queue, "handoff show q") == ["quote-77"]
    for command in ("decide", "status", "wait", "close"):
        assert bash_words(queue, f"handoff {command} re") == [RUN]


def test_types_roles_and_statuses_from_the_runbook(queue: Path) -> None:
    assert bash_words(queue, "handoff new ") == ["compliance_concern", "customer_exception",
                                                 "data_conflict", "external_sending"]
    assert bash_words(queue, "handoff list --type data") == ["data_conflict"]
    assert bash_words(queue, "handoff brief ext") == ["external_sending"]
    assert "customer-success-lead" in bash_words(queue, "handoff list --owner ")
    assert bash_words(queue, "handoff list --owner support") == ["support-manager"]
    assert bash_words(queue, "handoff list --status re") == ["returned"]
    assert bash_words(queue, "handoff new customer_exception --format j") == ["json"]


def test_option_labels_of_the_named_packet_stay_one_word(queue: Path) -> None:
    assert bash_words(queue, f"handoff decide {RUN} --option ") == [
        "approve\\ refund", "offer\\ credit", "escalate\\ to\\ manager"]
    assert bash_words(queue, f"handoff decide --as x@example.com {RUN} -o off") == [
        "offer\\ credit"]


def test_a_label_that_is_a_number_is_not_offered(queue: Path) -> None:
    """`--option 1` means the first option, so a label "1" (lint H308) is never offered."""
    write_packet(queue, f"{RUN}.md", SEED_MD.replace("label: offer credit", "label: '1'"))
    assert bash_words(queue, f"handoff decide {RUN} --option ") == [
        "approve\\ refund", "escalate\\ to\\ manager"]


def test_evidence_names_for_open(queue: Path) -> None:
    assert bash_words(queue, f"handoff open {RUN} ") == [
        "orderFile", "conversationSummary", "policyExcerpt"]
    assert bash_words(queue, f"handoff open {RUN} po") == ["policyExcerpt"]
    assert bash_words(queue, "handoff open qu") == ["quote-77"]


def test_workspace_flag_and_no_workspace(queue: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert bash_words(outside, "handoff show ") == []
    assert bash_words(outside, f"handoff -w {queue} show q") == ["quote-77"]
    assert bash_words(outside, "handoff show q", HANDOFF_WORKSPACE=str(queue)) == ["quote-77"]
    (queue / "runbooks" / "default.yaml").write_text("roles: [broken\n")
    assert bash_words(queue, "handoff new ") == []  # a broken runbook completes nothing


def test_listing_reads_names_not_packets(queue: Path) -> None:
    """Thousands of packets: completion lists file names and loads only the packet whose
    options it offers (the others here are not even readable)."""
    folder = queue / "packets" / "bulk"
    folder.mkdir()
    for i in range(3000):
        (folder / f"bulk-{i:04d}.md").write_bytes(b"\x00 not a packet")
    (folder / "bulk-0000.md").chmod(0)
    words = bash_words(queue, "handoff show bulk-")
    assert len(words) == 3000 and words[0] == "bulk-0000"
    assert bash_words(queue, f"handoff decide {RUN} -o esc") == ["escalate\\ to\\ manager"]


def test_hostile_names_and_labels_are_not_offered(queue: Path) -> None:
    write_packet(queue, "evil$(touch pwned).md", "x")
    write_packet(queue, "evil\nline.md", "x")
    labels = SEED_MD.replace("label: offer credit", 'label: "offer \\e]0;x\\a credit"')
    write_packet(queue, "labels-1.md", labels.replace(RUN, "labels-1"))
    assert bash_words(queue, "handoff show e") == []
    assert bash_words(queue, "handoff decide labels-1 --option ") == [
        "approve\\ refund", "escalate\\ to\\ manager"]
    assert not (queue / "pwned").exists()


def test_zsh_and_fish_protocols(queue: Path) -> None:
    zsh = complete(queue, "handoff show q", shell="zsh")
    assert zsh.returncode == 0 and zsh.stdout.startswith("_arguments")
    assert '"quote-77"' in zsh.stdout
    fish = complete(queue, "handoff list --owner support", shell="fish")
    assert fish.returncode == 0 and fish.stdout.strip() == "support-manager"


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_real_bash_with_the_shipped_completion_script(queue: Path) -> None:
    """`handoff --show-completion bash`, sourced into bash, fills COMPREPLY."""
    assert (BIN / "handoff").exists(), "the handoff script is installed next to python"
    script = f"""
eval "$(handoff --show-completion bash)"
COMP_WORDS=(handoff decide {RUN} --option '')
COMP_CWORD=4
_handoff_completion handoff
printf '%s\\n' "${{COMPREPLY[@]}}"
COMP_WORDS=(handoff show q)
COMP_CWORD=2
_handoff_completion handoff
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("_HANDOFF_COMPLETE", None)
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], cwd=queue, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["approve\\ refund", "offer\\ credit",
                                        "escalate\\ to\\ manager", "quote-77"]
