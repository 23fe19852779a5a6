"""Lint behaviour through the CLI on real files: clean seeds, the hostile corpus, each rule."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SEED_MD, seed_json, write_packet

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, Any] = yaml.safe_load((CORPUS / "expected.yaml").read_text())
SEED_NAME = "refund-review-2026-05-24-1500"


def lint_json(run: Any, *args: str) -> tuple[int, list[dict[str, Any]]]:
    result = run("lint", "--format", "json", *args)
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, json.loads(result.stdout)


@pytest.mark.parametrize("form", ["json", "md", "md-bom-crlf"])
def test_seed_lints_clean(run: Any, root: Path, form: str) -> None:
    if form == "json":
        write_packet(root, f"{SEED_NAME}.json", seed_json())
    elif form == "md":
        write_packet(root, f"{SEED_NAME}.md", SEED_MD)
    else:
        crlf = SEED_MD.replace("\n", "\r\n").encode()
        write_packet(root, f"{SEED_NAME}.md", b"\xef\xbb\xbf" + crlf)
    result = run("lint")
    assert result.exit_code == 0, result.stdout
    assert result.stdout == ""
    assert "All packets passed" in result.stderr


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_case(run: Any, root: Path, name: str) -> None:
    expected = EXPECTED[name]
    shutil.copy(CORPUS / name, root / "packets" / name)
    code, findings = lint_json(run, f"packets/{name}")
    assert code == 1
    rules = {f["rule"] for f in findings if f["severity"] == "error"}
    assert set(expected["rules"]) <= rules, findings
    assert all(f["path"] == f"packets/{name}" for f in findings)
    if "line" in expected:
        first = min((f for f in findings if f["rule"] == expected["rules"][0]),
                    key=lambda f: f["line"])
        assert first["line"] == expected["line"], findings


def test_corpus_is_complete() -> None:
    on_disk = {p.name for p in CORPUS.iterdir() if p.suffix in (".md", ".json")}
    assert on_disk == set(EXPECTED)


def test_python_tag_is_never_executed(run: Any, root: Path) -> None:
    shutil.copy(CORPUS / "python-tag.md", root / "packets")
    run("lint")
    assert not (root / "HANDOFF_PWNED").exists()
    assert not Path("HANDOFF_PWNED").exists()


def test_oversized_file(run: Any, root: Path) -> None:
    write_packet(root, "big.md", SEED_MD + "x" * (1 << 20))
    code, findings = lint_json(run)
    assert code == 1
    assert [f["rule"] for f in findings] == ["H103"]


def test_max_file_bytes_is_configurable(run: Any, root: Path) -> None:
    config = root / "handoff.yaml"
    config.write_text(config.read_text().replace("maxFileBytes: 1048576", "maxFileBytes: 100"))
    write_packet(root, f"{SEED_NAME}.md", SEED_MD)
    code, findings = lint_json(run)
    assert code == 1 and [f["rule"] for f in findings] == ["H103"]


def test_evidence_symlink_out_of_workspace(run: Any, root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    os.symlink(secret, root / "workspace" / "link.txt")
    text = SEED_MD.replace("workspace/refunds/2026-05-24/orders.xlsx", "workspace/link.txt")
    write_packet(root, f"{SEED_NAME}.md", text)
    code, findings = lint_json(run)
    assert code == 1
    [finding] = findings
    assert finding["rule"] == "H403" and finding["line"] == 7
    assert "symlink" in finding["message"]


def test_evidence_symlink_inside_workspace_is_fine(run: Any, root: Path) -> None:
    os.symlink(root / "workspace" / "refunds", root / "workspace" / "latest")
    text = SEED_MD.replace("workspace/refunds/2026-05-24/orders.xlsx",
                           "workspace/latest/2026-05-24/orders.xlsx")
    write_packet(root, f"{SEED_NAME}.md", text)
    assert run("lint").exit_code == 0


def test_evidence_url_is_not_checked(run: Any, root: Path) -> None:
    text = SEED_MD.replace("workspace/refunds/2026-05-24/orders.xlsx",
                           "https://crm.example.com/orders/55120")
    write_packet(root, f"{SEED_NAME}.md", text)
    assert run("lint").exit_code == 0


def test_duplicate_run_id_across_files(run: Any, root: Path) -> None:
    write_packet(root, f"{SEED_NAME}.md", SEED_MD)
    write_packet(root, f"{SEED_NAME}.json", seed_json())
    code, findings = lint_json(run)
    assert code == 1
    assert [f["rule"] for f in findings] == ["H601"]
    assert findings[0]["path"] == f"packets/{SEED_NAME}.md"
    assert f"packets/{SEED_NAME}.json" in findings[0]["message"]


def test_duplicate_run_id_found_when_linting_one_file(run: Any, root: Path) -> None:
    write_packet(root, f"{SEED_NAME}.md", SEED_MD)
    write_packet(root, f"{SEED_NAME}.json", seed_json(), folder="exceptions")
    code, findings = lint_json(run, f"packets/{SEED_NAME}.md")
    assert code == 1 and [f["rule"] for f in findings] == ["H601"]


def test_run_id_differs_from_file_name(run: Any, root: Path) -> None:
    write_packet(root, "other-name.json", seed_json())
    code, findings = lint_json(run)
    assert code == 1 and [(f["rule"], f["line"]) for f in findings] == [("H602", 3)]


def test_missing_recommended_fields_severity_is_a_setting(run: Any, root: Path) -> None:
    light = json.dumps({"runId": "light-1", "triggerReason": "Refund above policy limit",
                        "evidence": {"order": "workspace/refunds/2026-05-24/orders.xlsx"},
                        "options": [{"label": "approve refund", "risk": "precedent"}],
                        "ownerRole": "customer-success-lead"})
    write_packet(root, "light-1.json", light)
    code, findings = lint_json(run)
    assert code == 1
    assert sorted({f["rule"] for f in findings}) == ["H202"]
    config = root / "handoff.yaml"
    setting = "  rules:\n    missing-field: warning"
    config.write_text(config.read_text().replace("  rules: {}", setting))
    code, findings = lint_json(run)
    assert code == 0
    assert {f["severity"] for f in findings} == {"warning"}
    text = run("lint").stdout
    assert "(warning)" in text


def test_rule_off(run: Any, root: Path) -> None:
    write_packet(root, "wrong-owner.md", (CORPUS / "wrong-owner.md").read_text())
    config = root / "handoff.yaml"
    config.write_text(config.read_text().replace("  rules: {}", "  rules:\n    H503: off"))
    assert run("lint").exit_code == 0


def test_unknown_rule_in_settings_is_exit_2_with_line(run: Any, root: Path) -> None:
    config = root / "handoff.yaml"
    config.write_text(config.read_text().replace("  rules: {}", "  rules:\n    H999: off"))
    result = run("lint")
    assert result.exit_code == 2
    assert "handoff.yaml:15:" in result.stderr and "H999" in result.stderr
    assert "Traceback" not in result.stderr


def test_exception_queue_files_skip_review_rules(run: Any, root: Path) -> None:
    text = (CORPUS / "unplanned-failure.md").read_text()
    write_packet(root, "unplanned-failure.md", text, folder="exceptions")
    assert run("lint").exit_code == 0


def test_folder_argument_and_text_format(run: Any, root: Path) -> None:
    write_packet(root, "wrong-owner.md", (CORPUS / "wrong-owner.md").read_text())
    write_packet(root, "empty.md", "")
    result = run("lint", "packets")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines == [
        "packets/empty.md:1:1: H105 file is empty",
        "packets/wrong-owner.md:17:1: H503 ownerRole 'data-owner' differs from the runbook's "
        "owner 'customer-success-lead' for customer_exception (run 'handoff route')",
    ]


def test_github_and_sarif_formats(run: Any, root: Path) -> None:
    write_packet(root, "empty.md", "")
    github = run("lint", "--format", "github").stdout
    assert github.startswith("::error file=packets/empty.md,line=1,col=1,title=H105 empty-file::")
    sarif = json.loads(run("lint", "--format", "sarif").stdout)
    [result] = sarif["runs"][0]["results"]
    assert result["ruleId"] == "H105"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 1


def test_bad_format_is_usage_error(run: Any) -> None:
    result = run("lint", "--format", "xml")
    assert result.exit_code == 2
    assert "--format" in result.stderr


def test_missing_file_argument(run: Any) -> None:
    code, findings = lint_json(run, "packets/nope.md")
    assert code == 1 and findings[0]["rule"] == "H101"


def test_no_workspace_is_exit_2(runner: Any, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from handoff_cli.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HANDOFF_WORKSPACE", raising=False)
    result = runner.invoke(app, ["lint"])
    assert result.exit_code == 2
    assert "handoff init" in result.stderr


def test_terminal_escapes_in_findings_are_neutralised(run: Any, root: Path) -> None:
    text = SEED_MD.replace("label: offer credit", 'label: "\\e]0;pwned\\a\\e[2Joffer"')
    write_packet(root, f"{SEED_NAME}.md", text)
    result = run("lint")
    assert result.exit_code == 1
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b" in result.stdout


def test_broken_runbook_is_exit_2_with_file_and_line(run: Any, root: Path) -> None:
    runbook = root / "runbooks" / "default.yaml"
    runbook.write_text(runbook.read_text().replace("owner: data-owner", "owner: nobody"))
    write_packet(root, f"{SEED_NAME}.md", SEED_MD)
    result = run("lint")
    assert result.exit_code == 2
    assert "runbooks/default.yaml:" in result.stderr and "nobody" in result.stderr


def test_json_output_escapes_c1_and_bidi_controls(run: Any, root: Path) -> None:
    text = SEED_MD.replace("label: offer credit", 'label: "offer\\x9b2J \\u202ecredit"')
    write_packet(root, f"{SEED_NAME}.md", text)
    result = run("lint", "--format", "json")
    assert "\x9b" not in result.stdout and "\u202e" not in result.stdout
    [finding] = json.loads(result.stdout)
    assert "offer\x9b2J \u202ecredit" in finding["message"]  # the data survives, escaped
