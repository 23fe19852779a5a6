"""Git as the shared store, with real git: a bare remote and several clones in tmp_path (an
agent and reviewers), the workspace in a subfolder of the repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from handoff_cli.api import PacketInput, create_packet
from handoff_cli.cli import app
from handoff_cli.decisions import decide
from handoff_cli.errors import ConflictError, GitError
from handoff_cli.gitsync import Backoff, publish, sync
from handoff_cli.workspace import Workspace, open_workspace

pytestmark = pytest.mark.skipif(shutil.which("git") is None,
                                reason="git is not installed: the shared-store tests need the "
                                "real git CLI")

MARIA = "maria.lopez@example.com"
SAM = "sam.okafor@example.com"
SUB = Path("team") / "ops"  # the workspace is a subfolder of the repository
NO_WAIT = Backoff(sleep=lambda seconds: None)


def git(cwd: Path, *args: str, check: bool = True) -> str:
    result = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True,
                            check=False)
    if check:
        assert result.returncode == 0, result.stderr
    return result.stdout


class Team:
    """A bare remote seeded with a workspace (git: {push: true}) and clones of it."""

    def __init__(self, tmp: Path) -> None:
        from handoff_cli.api import init_workspace

        self.tmp = tmp
        self.remote = tmp / "remote.git"
        git(tmp, "init", "--quiet", "--bare", "--initial-branch=main", str(self.remote))
        seed = self.clone("seed")
        init_workspace(seed)
        evidence = seed / "workspace" / "refunds"
        evidence.mkdir(parents=True)
        for name in ("orders.xlsx", "customer.md", "policy.md"):
            (evidence / name).write_text(f"evidence {name}\n", encoding="utf-8")
        with (seed / "handoff.yaml").open("a", encoding="utf-8") as handle:
            handle.write("git: {push: true}\n")
        top = self.tmp / "seed"
        git(top, "add", "--all")
        git(top, "commit", "--quiet", "-m", "a handoff workspace")
        git(top, "push", "--quiet", "origin", "HEAD:refs/heads/main")
        git(top, "branch", "--quiet", "--set-upstream-to=origin/main")

    def clone(self, name: str) -> Path:
        """A clone of the remote; returns its workspace folder."""
        top = self.tmp / name
        if not top.exists():
            git(self.tmp, "clone", "--quiet", str(self.remote), name)
            git(top, "config", "user.email", f"{name}@example.com")
            git(top, "config", "user.name", name)
        return top / SUB

    def remote_log(self, grep: str = "") -> list[str]:
        args = ["log", "--format=%B%x00", "main"]
        if grep:
            args.insert(1, f"--grep={grep}")
        return [m.strip() for m in git(self.remote, *args).split("\0") if m.strip()]

    def remote_file(self, relative: str) -> str:
        return git(self.remote, "show", f"main:{SUB.as_posix()}/{relative}")


@pytest.fixture
def team(tmp_path: Path) -> Team:
    return Team(tmp_path)


def cli(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=input, catch_exceptions=False)


def new_args(ws: Path, run_id: str) -> list[str]:
    return ["--workspace", str(ws), "new", "customer_exception", "--set", f"runId={run_id}",
            "--set", "agentGoal=Prepare refund decision material for high-value requests",
            "--set", "triggerReason=Refund amount exceeds standard policy",
            "--evidence", "orderFile=workspace/refunds/orders.xlsx",
            "--evidence", "conversationSummary=workspace/refunds/customer.md",
            "--evidence", "policyExcerpt=workspace/refunds/policy.md",
            "--option", "approve refund=sets exception precedent",
            "--option", "offer credit=may not satisfy customer",
            "--set", "agentNextActionAfterDecision=draft reply and keep Trust Mode on Confirm"]


def packet_input(run_id: str) -> PacketInput:
    return PacketInput(values={
        "runId": run_id, "agentGoal": "Prepare refund decision material",
        "triggerReason": "Refund amount exceeds standard policy",
        "agentNextActionAfterDecision": "draft reply"},
        evidence={"orderFile": "workspace/refunds/orders.xlsx",  # all three: lint-clean
                  "conversationSummary": "workspace/refunds/customer.md",
                  "policyExcerpt": "workspace/refunds/policy.md"},
        options=[{"label": "approve refund", "risk": "precedent"},
                 {"label": "offer credit", "risk": "unhappy customer"}])


def files_of(top: Path, rev: str = "HEAD") -> list[str]:
    return git(top, "show", "--format=", "--name-only", rev).split()


def assert_clean_state(top: Path) -> None:
    """No rebase or merge left behind, and no conflict markers anywhere in the work tree."""
    git_dir = top / ".git"
    for name in ("rebase-merge", "rebase-apply", "MERGE_HEAD"):
        assert not (git_dir / name).exists(), name
    assert "U" not in "".join(line[:2] for line in git(top, "status", "--porcelain").splitlines())
    found = git(top, "grep", "-l", "-e", "^<<<<<<< ", "-e", "^>>>>>>> ", check=False)
    assert found == "", found


def test_new_push_commits_only_the_packet_and_keeps_other_work(team: Team) -> None:
    ws = team.clone("agent")
    top = ws.parents[1]
    (top / "notes.txt").write_text("unrelated, uncommitted\n", encoding="utf-8")
    (ws / "staged.txt").write_text("staged, not for this commit\n", encoding="utf-8")
    git(top, "add", "team/ops/staged.txt")
    result = cli(*new_args(ws, "refund-1"))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "packets/refund-1.md"
    assert files_of(top) == ["team/ops/packets/refund-1.md"]
    message = team.remote_log()[0]
    assert message.splitlines()[0] == "handoff: created refund-1"
    assert "Handoff-Run-Id: refund-1" in message and "Handoff-Event: created" in message
    status = git(top, "status", "--porcelain")
    assert "A  team/ops/staged.txt" in status and "?? notes.txt" in status
    assert "runId: refund-1" in team.remote_file("packets/refund-1.md")


def test_no_push_and_push_flags_override_the_setting(team: Team) -> None:
    ws = team.clone("agent")
    assert cli(*new_args(ws, "local-only"), "--no-push").exit_code == 0
    assert team.remote_log("Handoff-Run-Id: local-only") == []
    assert (ws / "packets" / "local-only.md").exists()


def test_reviewers_race_and_exactly_one_wins(team: Team) -> None:
    agent = team.clone("agent")
    assert cli(*new_args(agent, "refund-2")).exit_code == 0
    first, second = team.clone("r1"), team.clone("r2")  # both up to date, both undecided
    (second.parents[1] / "draft.txt").write_text("the reviewer's own work\n", encoding="utf-8")

    def sam_decides_but_maria_pushes_first() -> Any:
        won = cli("--workspace", str(first), "decide", "refund-2", "--option", "approve refund",
                  "--as", MARIA)
        assert won.exit_code == 0, won.output
        return decide(open_workspace(second), "refund-2", "offer credit", None, SAM)

    with pytest.raises(ConflictError) as lost:
        publish(open_workspace(second), sam_decides_but_maria_pushes_first, backoff=NO_WAIT)
    message = str(lost.value)
    assert f"already decided 'approve refund' by {MARIA} at 20" in message
    assert "your decision was not recorded" in message
    top = second.parents[1]
    assert git(top, "rev-parse", "HEAD") == git(team.remote, "rev-parse", "main")
    assert (second / "packets" / "refund-2.md").read_text(encoding="utf-8") == \
        team.remote_file("packets/refund-2.md")
    assert (top / "draft.txt").read_text(encoding="utf-8") == "the reviewer's own work\n"
    assert_clean_state(top)
    assert len(team.remote_log("Handoff-Event: decided")) == 1
    remote = team.remote_file("packets/refund-2.md")
    assert remote.count("event: decided") == 1 and SAM not in remote


def test_the_loser_of_a_stale_clone_exits_3_naming_who_and_when(team: Team) -> None:
    agent = team.clone("agent")
    assert cli(*new_args(agent, "refund-3")).exit_code == 0
    first, second = team.clone("r1"), team.clone("r2")
    assert cli("--workspace", str(first), "decide", "refund-3", "--option", "1",
               "--as", MARIA).exit_code == 0
    lost = cli("--workspace", str(second), "decide", "refund-3", "--option", "2", "--as", SAM)
    assert lost.exit_code == 3
    assert f"already decided by {MARIA} at 20" in lost.stderr
    assert len(team.remote_log("Handoff-Event: decided")) == 1
    assert_clean_state(second.parents[1])


def test_two_reviewer_processes_at_once_exactly_one_wins(team: Team) -> None:
    agent = team.clone("agent")
    assert cli(*new_args(agent, "refund-4")).exit_code == 0
    clones = {MARIA: team.clone("r1"), SAM: team.clone("r2")}
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    procs = [subprocess.Popen([sys.executable, "-m", "handoff_cli", "decide", "refund-4",
                               "--option", label, "--as", who], cwd=clones[who], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for who, label in ((MARIA, "approve refund"), (SAM, "offer credit"))]
    outcomes = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    for proc in procs:
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
    assert sorted(code for code, _ in outcomes) == [0, 3], outcomes
    loser = next(err for code, err in outcomes if code == 3)
    assert "already decided" in loser and " by " in loser and " at 20" in loser
    assert len(team.remote_log("Handoff-Event: decided")) == 1
    assert team.remote_file("packets/refund-4.md").count("event: decided") == 1
    for ws in clones.values():
        assert_clean_state(ws.parents[1])


def test_agent_wait_pull_sees_the_decision(team: Team) -> None:
    agent = team.clone("agent")
    assert cli(*new_args(agent, "refund-5")).exit_code == 0
    waited = cli("--workspace", str(agent), "wait", "refund-5", "--pull", "--timeout", "0")
    assert waited.exit_code == 124
    reviewer = team.clone("r1")
    assert cli("--workspace", str(reviewer), "decide", "refund-5", "--option", "offer credit",
               "--note", "credit, not cash", "--as", MARIA).exit_code == 0
    waited = cli("--workspace", str(agent), "wait", "refund-5", "--pull", "--timeout", "0")
    assert waited.exit_code == 0, waited.output
    data = json.loads(waited.stdout)
    assert data["status"] == "decided" and data["option"]["label"] == "offer credit"
    assert data["decision"]["by"] == MARIA
    closed = cli("--workspace", str(agent), "close", "refund-5", "--outcome", "sent the credit")
    assert closed.exit_code == 0, closed.output
    assert team.remote_log()[0].splitlines()[0] == "handoff: closed refund-5"


def test_wait_pulls_again_at_a_backed_off_interval(team: Team) -> None:
    from handoff_cli.agent import wait
    from handoff_cli.gitsync import pull

    agent = team.clone("agent")
    workspace = open_workspace(agent)
    publish(workspace, lambda: create_packet(workspace, "customer_exception",
                                             packet_input("refund-6")))
    reviewer = open_workspace(team.clone("r1"))
    now = [0.0]
    pulls: list[float] = []
    decided: list[bool] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds
        if now[0] >= 5 and not decided:
            publish(reviewer, lambda: decide(reviewer, "refund-6", "approve refund", None,
                                             MARIA))
            decided.append(True)

    def counted_pull() -> int:
        pulls.append(now[0])
        return pull(workspace)

    done = wait(workspace, "refund-6", timeout=600, clock=lambda: now[0], sleep=sleep,
                pull=counted_pull, pull_interval=2.0)
    assert done.status == "decided" and done.decision and done.decision["by"] == MARIA
    assert pulls == pytest.approx([0.0, 2.0, 6.0])  # at once, then 2 s, then 4 s later


def test_many_clones_pushing_new_packets_all_land(team: Team) -> None:
    clones = [open_workspace(team.clone(f"agent{n}")) for n in range(6)]
    errors: list[BaseException] = []

    def agent(workspace: Workspace, n: int) -> None:
        try:
            publish(workspace, lambda: create_packet(workspace, "customer_exception",
                                                     packet_input(f"run-{n}")),
                    backoff=NO_WAIT)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=agent, args=(ws, n)) for n, ws in enumerate(clones)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(team.remote_log("Handoff-Event: created")) == 6
    listed = git(team.remote, "ls-tree", "--name-only", f"main:{SUB.as_posix()}/packets")
    assert sorted(listed.split()) == sorted(f"run-{n}.md" for n in range(6))


def test_retries_are_bounded_then_exit_3(team: Team) -> None:
    mine, other = open_workspace(team.clone("a1")), open_workspace(team.clone("a2"))

    def write_while_the_remote_moves() -> Any:
        publish(other, lambda: create_packet(other, "customer_exception",
                                             packet_input("other-run")))
        return create_packet(mine, "customer_exception", packet_input("my-run"))

    with pytest.raises(ConflictError, match="the remote kept moving: 1 pushes were refused"):
        publish(mine, write_while_the_remote_moves, backoff=Backoff(attempts=1))
    top = mine.root.parents[1]
    assert "handoff: created my-run" in git(top, "log", "-1", "--format=%s")  # kept, not lost
    result = sync(mine, backoff=NO_WAIT)
    assert (result.pulled, result.pushed) == (1, 1)
    assert len(team.remote_log("Handoff-Event: created")) == 2


def test_remote_moved_by_others_is_rebased_and_pushed(team: Team) -> None:
    mine, other = open_workspace(team.clone("a1")), open_workspace(team.clone("a2"))
    seen: list[float] = []

    def write_while_the_remote_moves() -> Any:
        publish(other, lambda: create_packet(other, "customer_exception",
                                             packet_input("other-run")))
        return create_packet(mine, "customer_exception", packet_input("my-run"))

    backoff = Backoff(sleep=seen.append, jitter=lambda: 1.0)
    publish(mine, write_while_the_remote_moves, backoff=backoff)
    assert seen == [0.05]
    subjects = git(team.remote, "log", "--format=%s", "-3", "main").splitlines()
    assert subjects[:2] == ["handoff: created my-run", "handoff: created other-run"]


def test_new_with_a_runid_taken_on_the_remote_keeps_the_agents_file(team: Team) -> None:
    mine, other = open_workspace(team.clone("a1")), open_workspace(team.clone("a2"))

    def both_create_the_same_run() -> Any:
        publish(other, lambda: create_packet(other, "customer_exception",
                                             packet_input("same-run")))
        return create_packet(mine, "customer_exception", packet_input("same-run"))

    with pytest.raises(ConflictError) as lost:
        publish(mine, both_create_the_same_run, backoff=NO_WAIT)
    assert "already" not in str(lost.value)
    assert "your new packet was not recorded" in str(lost.value)
    assert "your version is kept in .handoff/conflicts/same-run." in str(lost.value)
    kept = list((mine.state_dir / "conflicts").iterdir())
    assert len(kept) == 1 and "runId: same-run" in kept[0].read_text(encoding="utf-8")
    assert_clean_state(mine.root.parents[1])


def test_sync_pulls_and_pushes(team: Team) -> None:
    ws = team.clone("a1")
    top = ws.parents[1]
    (top / "README.team").write_text("how we work\n", encoding="utf-8")
    git(top, "add", "README.team")
    git(top, "commit", "--quiet", "-m", "team notes")
    other = team.clone("a2")
    assert cli(*new_args(other, "refund-7")).exit_code == 0
    result = cli("--workspace", str(ws), "sync")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "origin/main: pulled 1 commit(s), pushed 1 commit(s)"
    assert (ws / "packets" / "refund-7.md").exists()
    again = cli("--workspace", str(ws), "sync", "--format", "json")
    assert json.loads(again.stdout) == {"pulled": 0, "pushed": 0, "remote": "origin",
                                        "branch": "main"}


def test_uncommitted_edits_the_remote_also_changed_are_refused(team: Team) -> None:
    agent = team.clone("agent")
    assert cli(*new_args(agent, "refund-8")).exit_code == 0
    reviewer = team.clone("r1")
    packet = reviewer / "packets" / "refund-8.md"
    packet.write_text(packet.read_text(encoding="utf-8") + "\nA hand edit.\n", encoding="utf-8")
    assert cli("--workspace", str(team.clone("r2")), "decide", "refund-8", "--option", "1",
               "--as", SAM).exit_code == 0
    before = packet.read_text(encoding="utf-8")
    result = cli("--workspace", str(reviewer), "decide", "refund-8", "--option", "2",
                 "--as", MARIA)
    assert result.exit_code == 1
    assert "uncommitted changes to team/ops/packets/refund-8.md would clash" in result.stderr
    assert packet.read_text(encoding="utf-8") == before
    assert_clean_state(reviewer.parents[1])


def test_local_commits_that_conflict_are_never_left_mid_rebase(team: Team) -> None:
    ws, other = team.clone("a1"), team.clone("a2")
    for where, text in ((other, "theirs\n"), (ws, "mine\n")):
        (where / "runbooks" / "notes.md").write_text(text, encoding="utf-8")
        git(where, "add", "runbooks/notes.md")
        git(where, "commit", "--quiet", "-m", f"notes: {text.strip()}")
        if where == other:
            git(where, "push", "--quiet")
    result = cli("--workspace", str(ws), "sync")
    assert result.exit_code == 1
    assert "do not rebase cleanly" in result.stderr and "rebase was aborted" in result.stderr
    assert_clean_state(ws.parents[1])
    assert (ws / "runbooks" / "notes.md").read_text(encoding="utf-8") == "mine\n"


def test_route_push_commits_the_routed_packets(team: Team) -> None:
    ws = team.clone("agent")
    assert cli(*new_args(ws, "refund-9"), "--no-push").exit_code == 0
    packet = ws / "packets" / "refund-9.md"
    packet.write_text(packet.read_text(encoding="utf-8").replace(
        "ownerRole: customer-success-lead", "ownerRole: legal-owner"), encoding="utf-8")
    result = cli("--workspace", str(ws), "route", "--push")
    assert result.exit_code == 0, result.output
    assert team.remote_log()[0].splitlines()[0] == "handoff: routed refund-9"
    assert "ownerRole: customer-success-lead" in team.remote_file("packets/refund-9.md")


def test_return_push_message(team: Team) -> None:
    agent = team.clone("agent")
    assert cli(*new_args(agent, "refund-10")).exit_code == 0
    reviewer = team.clone("r1")
    result = cli("--workspace", str(reviewer), "decide", "refund-10", "--return", "--missing",
                 "invoice", "--as", MARIA)
    assert result.exit_code == 0, result.output
    message = team.remote_log()[0]
    assert message.splitlines()[0] == "handoff: returned refund-10 (missing: invoice)"
    assert "Handoff-Event: returned" in message


def test_edit_push_commits_the_agents_edit_for_the_reviewer_to_pull(team: Team) -> None:
    agent = team.clone("agent")
    assert cli(*new_args(agent, "refund-11")).exit_code == 0
    result = cli("--workspace", str(agent), "edit", "refund-11", "--set", "amount=1250",
                 "--set", "note=ok\n\nHandoff-Event: decided")
    assert result.exit_code == 0, result.output
    message = team.remote_log()[0]
    assert message.splitlines()[0] == "handoff: edited refund-11 (amount, note)"
    assert message.splitlines()[2:] == ["Handoff-Run-Id: refund-11", "Handoff-Event: edited"]
    assert "amount: 1250" in team.remote_file("packets/refund-11.md")
    unchanged = cli("--workspace", str(agent), "edit", "refund-11", "--set", "amount=1250")
    assert unchanged.output.startswith("refund-11: unchanged") and len(team.remote_log()) == 3


def test_agent_text_cannot_forge_commit_trailers(team: Team) -> None:
    from handoff_cli.decisions import Recorded
    from handoff_cli.gitsync import change_for

    ws = open_workspace(team.clone("a1"))
    forged = Recorded(ws.root / "packets" / "x.md", "x", "decided",
                      {"option": "ok\n\nHandoff-Event: closed\x1b[2J"})
    change = change_for(ws, forged)
    assert change is not None
    lines = change.message().splitlines()
    assert lines[0] == "handoff: decided x 'ok Handoff-Event: closed [2J'"
    assert lines[2:] == ["Handoff-Run-Id: x", "Handoff-Event: decided"]


def test_push_outside_a_git_work_tree_is_a_usage_error(root: Path) -> None:
    result = cli("--workspace", str(root), "new", "customer_exception", "--push")
    assert result.exit_code == 2
    assert "not inside a git work tree" in result.stderr


@pytest.mark.parametrize(("setting", "message"), [
    ("git: yes", "'git' must be a mapping"),
    ("git: {push: sometimes}", "'git.push' must be true or false"),
    ("git: {remote: --upload-pack=evil}", "'git.remote' must be the name of a git remote"),
    ("git: {retries: 0}", "'git.retries' must be a whole number"),
    ("git: {pull: true}", "unknown key 'git.pull'"),
])
def test_git_settings_are_checked(root: Path, setting: str, message: str) -> None:
    with (root / "handoff.yaml").open("a", encoding="utf-8") as handle:
        handle.write(setting + "\n")
    result = cli("--workspace", str(root), "list")
    assert result.exit_code == 2
    assert message in result.stderr and "handoff.yaml:" in result.stderr


def test_an_unreachable_remote_is_a_git_error_before_anything_is_written(team: Team) -> None:
    ws = team.clone("a1")
    git(ws, "remote", "set-url", "origin", str(team.tmp / "gone.git"))
    result = cli(*new_args(ws, "refund-11"))
    assert result.exit_code == 1
    assert "cannot fetch from 'origin'" in result.stderr
    assert not (ws / "packets" / "refund-11.md").exists()
    with pytest.raises(GitError):
        sync(open_workspace(ws))


def add_setting(ws: Path, text: str) -> None:
    """Change handoff.yaml in this clone only (left uncommitted, like a person's local tweak)."""
    with (ws / "handoff.yaml").open("a", encoding="utf-8") as handle:
        handle.write(text)


def test_hooks_fire_once_the_push_landed_and_never_for_the_loser(team: Team) -> None:
    agent = team.clone("agent")
    assert cli(*new_args(agent, "refund-12")).exit_code == 0
    first, second = team.clone("r1"), team.clone("r2")
    logs = {ws: team.tmp / f"{ws.parents[1].name}-hooks.log" for ws in (first, second)}
    for ws, log in logs.items():
        add_setting(ws, f"hooks: {{decided: 'cat >> {log}'}}\n")

    def maria_pushes_first() -> Any:
        won = cli("--workspace", str(first), "decide", "refund-12", "--option", "1",
                  "--as", MARIA)
        assert won.exit_code == 0, won.output
        assert logs[first].exists(), won.output
        assert json.loads(logs[first].read_text(encoding="utf-8"))["event"] == "decided"
        return decide(open_workspace(second), "refund-12", "offer credit", None, SAM)

    with pytest.raises(ConflictError):
        publish(open_workspace(second), maria_pushes_first, backoff=NO_WAIT)
    assert not logs[second].exists()  # the losing decision notified no one
    assert len(logs[first].read_text(encoding="utf-8").splitlines()) == 1


def test_withdraw_resubmit_and_replace_push_their_files(team: Team) -> None:
    agent = team.clone("agent")
    for run_id in ("refund-13", "refund-14"):
        assert cli(*new_args(agent, run_id)).exit_code == 0
    assert cli("--workspace", str(agent), "withdraw", "refund-13", "--reason",
               "the customer cancelled the order").exit_code == 0
    assert team.remote_log()[0].splitlines()[0] == "handoff: withdrawn refund-13"
    reviewer = team.clone("r1")
    assert cli("--workspace", str(reviewer), "decide", "refund-14", "--return", "--missing",
               "invoice", "--as", MARIA).exit_code == 0
    replaced = cli(*new_args(agent, "refund-15"), "--replaces", "refund-14",
                   "--set", "invoice=INV-7")
    assert replaced.exit_code == 0, replaced.output
    top = agent.parents[1]
    assert sorted(files_of(top)) == ["team/ops/packets/refund-14.md",
                                     "team/ops/packets/refund-15.md"]
    assert "status: closed" in team.remote_file("packets/refund-14.md")
    assert_clean_state(top)


def test_wait_pull_returns_a_verified_decision_and_ignores_a_forged_one(team: Team) -> None:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed: signed decisions need real OpenSSH")
    keys = team.tmp / "keys"
    keys.mkdir()
    for who in ("maria", "mallory"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", who,
                        "-f", str(keys / who)], check=True)
    seed = team.clone("seed")
    public = (keys / "maria.pub").read_text(encoding="utf-8").split()
    (seed / "allowed_signers").write_text(f"{MARIA} {public[0]} {public[1]}\n",
                                          encoding="utf-8")
    add_setting(seed, "decisions: {signatures: required, allowedSigners: allowed_signers}\n")
    git(seed, "add", "--all")
    git(seed, "commit", "--quiet", "-m", "require signed decisions")
    git(seed, "push", "--quiet", "origin", "HEAD:refs/heads/main")

    agent = team.clone("agent")
    for run_id in ("signed-1", "forged-1"):
        assert cli(*new_args(agent, run_id)).exit_code == 0
    reviewer = team.clone("r1")
    signed = cli("--workspace", str(reviewer), "decide", "signed-1", "--option", "offer credit",
                 "--as", MARIA, "--key", str(keys / "maria"))
    assert signed.exit_code == 0, signed.output
    # An attacker replays that signed decision on the other packet, with plain git.
    from handoff_cli.editing import set_keys
    from handoff_cli.packet import load_packet

    attacker = team.clone("mallory")
    target = attacker / "packets" / "forged-1.md"
    stolen = load_packet(attacker / "packets" / "signed-1.md").data
    target.write_text(set_keys(target.read_text(encoding="utf-8"), "md", {
        "status": "decided", "decision": stolen["decision"],
        "history": [*load_packet(target).data["history"], stolen["history"][-1]]}),
        encoding="utf-8")
    git(attacker.parents[1], "commit", "--quiet", "-am", "approve it myself")
    git(attacker.parents[1], "push", "--quiet", "origin", "HEAD:refs/heads/main")

    waited = cli("--workspace", str(agent), "wait", "signed-1", "--pull", "--timeout", "0")
    assert waited.exit_code == 0, waited.output
    data = json.loads(waited.stdout)
    assert data["status"] == "decided" and data["verified"] is True
    assert data["option"]["label"] == "offer credit"
    refused = cli("--workspace", str(agent), "wait", "forged-1", "--pull", "--timeout", "0")
    assert refused.exit_code == 124
    assert json.loads(refused.stdout)["verified"] is False


def test_mcp_tools_share_through_git_when_git_push_is_on(team: Team) -> None:
    from conftest import SEED

    from handoff_cli.mcp_server import Tools

    tools = Tools(open_workspace(team.clone("agent")), identity="agent-7")
    packet = {**SEED, "runId": "mcp-1", "evidence": {
        "orderFile": "workspace/refunds/orders.xlsx",
        "conversationSummary": "workspace/refunds/customer.md",
        "policyExcerpt": "workspace/refunds/policy.md"}}
    made = tools.create_handoff(packet)
    assert made["runId"] == "mcp-1"
    assert team.remote_log()[0].splitlines()[0] == "handoff: created mcp-1"
    reviewer = team.clone("r1")
    assert cli("--workspace", str(reviewer), "decide", "mcp-1", "--option", "offer credit",
               "--as", MARIA).exit_code == 0
    decided = tools.wait_slice("mcp-1", 0)
    assert decided["status"] == "decided" and decided["option"]["label"] == "offer credit"
    tools.close_handoff("mcp-1", "sent the credit note")
    assert team.remote_log()[0].splitlines()[0] == "handoff: closed mcp-1"


def test_a_branch_without_a_commit_is_refused_before_writing(tmp_path: Path) -> None:
    from handoff_cli.api import init_workspace

    remote = tmp_path / "empty.git"
    git(tmp_path, "init", "--quiet", "--bare", str(remote))
    git(tmp_path, "clone", "--quiet", str(remote), "fresh")
    ws = tmp_path / "fresh" / "ops"
    init_workspace(ws)
    result = cli(*new_args(ws, "first-run"), "--push")
    assert result.exit_code == 2
    assert "has no commit yet: commit the workspace" in result.stderr
    assert not (ws / "packets" / "first-run.md").exists()


def test_a_clash_while_retrying_keeps_the_commit_and_says_so(team: Team) -> None:
    mine, other = team.clone("a1"), team.clone("a2")
    (mine / "runbooks" / "notes.md").write_text("my draft\n", encoding="utf-8")  # uncommitted
    workspace = open_workspace(mine)

    def write_while_the_remote_changes_my_draft() -> Any:
        (other / "runbooks" / "notes.md").write_text("theirs\n", encoding="utf-8")
        git(other, "add", "runbooks/notes.md")
        git(other, "commit", "--quiet", "-m", "notes")
        git(other, "push", "--quiet")
        return create_packet(workspace, "customer_exception", packet_input("my-run"))

    with pytest.raises(GitError, match="committed in this clone but not pushed"):
        publish(workspace, write_while_the_remote_changes_my_draft, backoff=NO_WAIT)
    top = mine.parents[1]
    assert git(top, "log", "-1", "--format=%s").strip() == "handoff: created my-run"
    assert (mine / "runbooks" / "notes.md").read_text(encoding="utf-8") == "my draft\n"
    assert_clean_state(top)
