"""Lint in a repository with several workspaces: each PATH is checked against its own
workspace's runbook, a file outside every workspace is one finding, through the CLI and through
the real pre-commit client."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SEED_MD
from typer.testing import CliRunner

from handoff_cli.api import init_workspace
from handoff_cli.cli import app

RUN = "refund-review-2026-05-24-1500"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository holding two workspaces whose runbooks route customer_exception to different
    owners, the same packet in both, and a stray packet outside any workspace."""
    repo = tmp_path / "repo"
    for name in ("team-a", "team-b"):
        root = repo / name
        init_workspace(root)
        evidence = root / "workspace" / "refunds" / "2026-05-24"
        evidence.mkdir(parents=True)
        for file in ("orders.xlsx", "customer-8241.md", "refund-policy.md"):
            (evidence / file).write_text("evidence\n")
        (root / "packets" / f"{RUN}.md").write_text(SEED_MD)
    runbook = repo / "team-b" / "runbooks" / "default.yaml"
    runbook.write_text(runbook.read_text().replace(
        "    owner: customer-success-lead\n", "    owner: support-manager\n", 1))
    stray = repo / "drafts" / "packets"
    stray.mkdir(parents=True)
    (stray / "loose.md").write_text(SEED_MD.replace(RUN, "loose"))
    return repo


def lint_from(directory: Path, *args: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(directory)
    return CliRunner().invoke(app, ["lint", *args], catch_exceptions=False)


def test_each_path_is_checked_in_its_own_workspace(repo: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = f"team-a/packets/{RUN}.md", f"team-b/packets/{RUN}.md"
    result = lint_from(repo, a, b, "drafts/packets/loose.md", monkeypatch=monkeypatch)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert not [line for line in lines if line.startswith("team-a/")]  # clean by its runbook
    assert [line.split(": ", 1)[1].split()[0] for line in lines
            if line.startswith("team-b/")] == ["H503"]  # B routes it elsewhere
    assert "'support-manager'" in result.stdout
    assert ("drafts/packets/loose.md:1:1: H114 not inside a handoff workspace"
            in result.stdout)
    assert "Traceback" not in result.output
    # The same run without the stray file: only B's finding; A alone is clean.
    assert lint_from(repo, a, monkeypatch=monkeypatch).exit_code == 0
    # Same-named runIds in two workspaces are not duplicates of each other.
    assert "H601" not in result.stdout


def test_json_output_across_workspaces(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    result = lint_from(repo, "--format", "json", f"team-b/packets/{RUN}.md",
                       "drafts/packets/loose.md", monkeypatch=monkeypatch)
    found = json.loads(result.stdout)
    assert [(f["path"], f["rule"]) for f in found] == [
        ("drafts/packets/loose.md", "H114"), (f"team-b/packets/{RUN}.md", "H503")]


def test_an_explicit_workspace_still_checks_everything_against_it(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = lint_from(repo, f"team-a/packets/{RUN}.md", monkeypatch=monkeypatch)
    assert result.exit_code == 0
    monkeypatch.setenv("HANDOFF_WORKSPACE", str(repo / "team-b"))
    result = lint_from(repo, f"team-a/packets/{RUN}.md", monkeypatch=monkeypatch)
    assert result.exit_code == 1 and "H503" in result.stdout


def test_a_draft_outside_is_judged_by_the_current_workspace(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    draft = repo.parent / "draft.md"
    draft.write_text(SEED_MD.replace(RUN, "draft"))
    result = lint_from(repo / "team-b", str(draft), monkeypatch=monkeypatch)
    assert "H503" in result.stdout and "H114" not in result.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_through_the_real_pre_commit_client(repo: Path, tmp_path: Path) -> None:
    """pre-commit runs the hook once from the repository root with files of both workspaces."""
    hooks = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "handoff-lint")
    config = {"repos": [{"repo": "local", "hooks": [{
        "id": hook["id"], "name": hook["name"], "files": hook["files"],
        "require_serial": hook["require_serial"], "language": "system",
        # The shipped hook's entry is `handoff lint` in its own environment; here the
        # installed package under test, without network.
        "entry": f"{sys.executable} -m handoff_cli lint",
    }]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    env.pop("HANDOFF_WORKSPACE", None)

    def run(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True,
                              timeout=120, check=False)

    assert run("git", "init", "-q").returncode == 0
    assert run("git", "add", "-A").returncode == 0
    pre_commit = [sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"]
    result = run(*pre_commit)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"team-b/packets/{RUN}.md" in output and "H503" in output
    assert f"team-a/packets/{RUN}.md" not in output
    assert "drafts/packets/loose.md:1:1: H114" in output
    assert "Traceback" not in output
    # Fix B's packet and move the stray into a workspace: the hook passes.
    packet = repo / "team-b" / "packets" / f"{RUN}.md"
    packet.write_text(packet.read_text().replace("ownerRole: customer-success-lead",
                                                 "ownerRole: support-manager"))
    (repo / "drafts" / "packets" / "loose.md").unlink()
    assert run("git", "add", "-A").returncode == 0
    result = run(*pre_commit)
    assert result.returncode == 0, result.stdout + result.stderr
