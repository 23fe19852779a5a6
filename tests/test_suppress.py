"""Suppressions: `# handoff: disable=...` in the frontmatter, `lint.ignore` in handoff.yaml,
and H901 for a suppression that suppresses nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, seed_json, write_packet

RUN = "refund-review-2026-05-24-1500"
WRONG_OWNER = SEED_MD.replace("ownerRole: customer-success-lead", "ownerRole: business-owner")


def findings(run: Any, *args: str) -> tuple[int, list[dict[str, Any]]]:
    result = run("lint", "--format", "json", *args)
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


def with_comment(text: str, comment: str, after: str = "runId: ") -> str:
    """Insert a comment line before the first line starting with `after`."""
    lines = text.split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(after))
    return "\n".join([*lines[:at], comment, *lines[at:]])


def set_lint(root: Path, extra: str) -> None:
    config = root / "handoff.yaml"
    config.write_text(config.read_text().replace("  rules: {}\n", f"  rules: {{}}\n{extra}"))


def test_without_suppression_the_rule_fires(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", WRONG_OWNER)
    code, found = findings(run)
    assert code == 1 and [f["rule"] for f in found] == ["H503"]


@pytest.mark.parametrize("comment", ["# handoff: disable=H503",
                                     "#handoff:disable=owner-mismatch",
                                     "  # handoff: disable = H202, H503  # legacy owner"])
def test_a_comment_disables_rules_in_its_file(run: Any, root: Path, comment: str) -> None:
    write_packet(root, f"{RUN}.md", with_comment(WRONG_OWNER, comment))
    code, found = findings(run)
    assert code == 0
    # H202 did not fire, so the third form reports it as unused (a warning)
    assert [(f["rule"], f["severity"]) for f in found] == (
        [("H901", "warning")] if "H202" in comment else [])


def test_unused_and_unknown_suppressions_are_warnings_at_their_place(run: Any,
                                                                     root: Path) -> None:
    write_packet(root, f"{RUN}.md", with_comment(SEED_MD, "# handoff: disable=H603,H999"))
    code, found = findings(run)
    assert code == 0
    assert [(f["rule"], f["line"], f["column"], f["severity"]) for f in found] == [
        ("H901", 3, 20, "warning"), ("H901", 3, 25, "warning")]
    assert "unused suppression: H603" in found[0]["message"]
    assert "names no rule: 'H999'" in found[1]["message"]
    text = run("lint").stdout
    assert f"packets/{RUN}.md:3:20: H901 unused suppression" in text and "(warning)" in text


def test_a_comment_only_counts_in_the_frontmatter(run: Any, root: Path) -> None:
    body = WRONG_OWNER + "# handoff: disable=H503\n"
    write_packet(root, f"{RUN}.md", body)
    code, found = findings(run)
    assert code == 1 and [f["rule"] for f in found] == ["H503"]


def test_text_that_looks_like_the_comment_is_not_one(run: Any, root: Path) -> None:
    """A line of a multi-line string is agent text, not a directive."""
    packet = WRONG_OWNER.replace(
        "agentGoal: Prepare refund decision material for high-value requests",
        'agentGoal: "Prepare refund decision material\n# handoff: disable=H503\n  for high-value"')
    write_packet(root, f"{RUN}.md", packet)
    code, found = findings(run)
    assert code == 1 and "H503" in {f["rule"] for f in found}


def test_config_ignore_applies_to_matching_paths_only(run: Any, root: Path) -> None:
    set_lint(root, '  ignore: {"packets/legacy/*": [H503]}\n')
    write_packet(root, f"legacy/{RUN}.md", WRONG_OWNER)
    other = WRONG_OWNER.replace(RUN, "other-run")
    write_packet(root, "other-run.md", other)
    code, found = findings(run)
    assert code == 1
    assert [(f["path"], f["rule"]) for f in found] == [("packets/other-run.md", "H503")]
    # a folder pattern covers every file under it; rules may be named
    set_lint(root, "")
    config = root / "handoff.yaml"
    config.write_text(config.read_text().replace('"packets/legacy/*": [H503]',
                                                 "packets/: [owner-mismatch]"))
    code, found = findings(run)
    assert code == 0 and found == []


def test_config_ignore_covers_load_failures_and_json(run: Any, root: Path) -> None:
    set_lint(root, "  ignore:\n    packets/legacy/*: [H106, H503]\n")
    write_packet(root, "legacy/notes.md", "just some notes\n")
    write_packet(root, f"legacy/{RUN}.json", seed_json(ownerRole="business-owner"))
    code, found = findings(run)
    assert code == 0 and found == []


def test_unused_config_ignore_is_reported_in_a_whole_run_only(run: Any, root: Path) -> None:
    set_lint(root, "  ignore:\n    packets/legacy/*:\n      - H503\n      - H202\n")
    write_packet(root, f"legacy/{RUN}.md", WRONG_OWNER)
    code, found = findings(run)
    assert code == 0
    assert [(f["path"], f["line"], f["rule"]) for f in found] == [("handoff.yaml", 18, "H901")]
    assert "lint.ignore 'packets/legacy/*' H202 suppressed nothing" in found[0]["message"]
    code, found = findings(run, f"packets/legacy/{RUN}.md")  # pre-commit: a few files
    assert code == 0 and found == []


def test_h901_can_be_turned_off_or_made_an_error(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", with_comment(SEED_MD, "# handoff: disable=H603"))
    set_lint(root, "")
    config = root / "handoff.yaml"
    config.write_text(config.read_text().replace("rules: {}", "rules: {unused-suppression: off}"))
    assert findings(run) == (0, [])
    config.write_text(config.read_text().replace("unused-suppression: off",
                                                 "unused-suppression: error"))
    code, found = findings(run)
    assert code == 1 and found[0]["severity"] == "error"


def test_file_suppressions_can_be_refused(run: Any, root: Path) -> None:
    """A workspace that does not let the packet's writer (the agent) silence lint."""
    set_lint(root, "  fileSuppressions: false\n")
    write_packet(root, f"{RUN}.md", with_comment(WRONG_OWNER, "# handoff: disable=H503"))
    code, found = findings(run)
    assert code == 1
    assert [f["rule"] for f in found] == ["H901", "H503"]
    assert "lint.fileSuppressions is false" in found[0]["message"]


@pytest.mark.parametrize(("setting", "message"), [
    ('  ignore: {"packets/*": [H999]}\n', "unknown lint rule 'H999' in lint.ignore"),
    ("  ignore: [H202]\n", "'lint.ignore' must map path patterns"),
    ('  ignore: {"../elsewhere/*": [H202]}\n', "must stay inside the workspace"),
    ('  ignore: {"packets/*": []}\n', "must list the rules to ignore"),
    ("  fileSuppressions: sometimes\n", "'lint.fileSuppressions' must be true or false"),
])
def test_broken_ignore_settings_are_config_errors(run: Any, root: Path, setting: str,
                                                  message: str) -> None:
    set_lint(root, setting)
    write_packet(root, f"{RUN}.md", SEED_MD)
    result = run("lint")
    assert result.exit_code == 2
    assert message in result.stderr
    assert re.search(r"handoff.yaml:1[56]: ", result.stderr), result.stderr  # its line
