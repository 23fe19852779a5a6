"""`handoff init`: scaffolds a workspace and never overwrites a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from handoff_cli.cli import app
from handoff_cli.workspace import open_workspace


def test_init_creates_the_workspace(runner: Any, tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", str(tmp_path / "ops")])
    assert result.exit_code == 0, result.output
    root = tmp_path / "ops"
    for name in ("handoff.yaml", "runbooks/default.yaml", "packets", "exceptions",
                 "templates/customer_exception.md", "templates/external_sending.md",
                 "templates/compliance_concern.md", "templates/data_conflict.md"):
        assert (root / name).exists(), name
    workspace = open_workspace(root)
    assert set(workspace.runbook.types) == {"customer_exception", "external_sending",
                                            "compliance_concern", "data_conflict"}


def test_init_never_overwrites(runner: Any, tmp_path: Path) -> None:
    root = tmp_path / "ops"
    runner.invoke(app, ["init", str(root)])
    (root / "handoff.yaml").write_text("# mine\nversion: 1\n")
    (root / "templates" / "data_conflict.md").unlink()
    result = runner.invoke(app, ["init", str(root)])
    assert result.exit_code == 0
    assert (root / "handoff.yaml").read_text() == "# mine\nversion: 1\n"
    assert (root / "templates" / "data_conflict.md").exists()
    assert "created" in result.stdout and "handoff.yaml" not in result.stdout
    again = runner.invoke(app, ["init", str(root)])
    assert "nothing to create" in again.stdout


def test_init_on_a_file_is_usage_error(runner: Any, tmp_path: Path) -> None:
    target = tmp_path / "afile"
    target.write_text("x")
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 2
    assert "not a directory" in result.stderr


def test_role_map_matches_the_spec(workspace: Any) -> None:
    runbook = workspace.runbook
    expected = {
        "customer_exception": ("business_judgment", "customer-success-lead",
                               ["approve refund", "reject", "offer credit", "escalate to manager"]),
        "external_sending": ("risk_authorization", "business-owner", ["send", "rewrite", "hold"]),
        "compliance_concern": ("risk_authorization", "legal-owner",
                               ["continue", "revise", "seek outside view"]),
        "data_conflict": ("evidence_gap", "data-owner",
                          ["choose source", "request missing material"]),
    }
    for name, (category, owner, responses) in expected.items():
        handoff_type = runbook.types[name]
        assert handoff_type.category == category
        assert handoff_type.owner == owner
        assert list(handoff_type.responses) == responses
        assert handoff_type.agent_completes
    assert {t.name for t in runbook.exception_triggers} >= {
        "file_read_failed", "missing_source", "output_schema_invalid", "permission_denied"}


def test_workspace_found_by_walking_up_and_by_env(runner: Any, root: Path,
                                                   monkeypatch: Any) -> None:
    deep = root / "workspace" / "refunds"
    monkeypatch.chdir(deep)
    assert runner.invoke(app, ["lint"]).exit_code == 0
    elsewhere = root.parent / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert runner.invoke(app, ["lint"]).exit_code == 2
    monkeypatch.setenv("HANDOFF_WORKSPACE", str(root))
    assert runner.invoke(app, ["lint"]).exit_code == 0
    monkeypatch.delenv("HANDOFF_WORKSPACE")
    assert runner.invoke(app, ["-w", str(root), "lint"]).exit_code == 0


def test_broken_settings_name_file_and_line(run: Any, root: Path) -> None:
    (root / "handoff.yaml").write_text("version: 1\npaths:\n  packets: ../outside\n")
    result = run("lint")
    assert result.exit_code == 2
    assert "handoff.yaml:3:" in result.stderr and "inside the workspace" in result.stderr
    (root / "handoff.yaml").write_text("version: 1\npaths: [\n")
    result = run("lint")
    assert result.exit_code == 2 and "YAML syntax error" in result.stderr
    assert "Traceback" not in result.stderr


def test_version(runner: Any) -> None:
    from handoff_cli import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"handoff {__version__}"
