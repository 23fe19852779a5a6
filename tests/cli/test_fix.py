"""`handoff lint --fix` and `--diff`: safe fixes through the byte-preserving editor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from conftest import SEED_MD, seed_json, write_packet

RUN = "refund-review-2026-05-24-1500"


def frontmatter(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text().split("---\n")[1])
    return data


def test_runid_from_the_file_name_changes_only_that_line(run: Any, root: Path) -> None:
    before = SEED_MD.replace(f"runId: {RUN}", "runId: 'typo-run'  # keep me")
    path = write_packet(root, f"{RUN}.md", before)
    result = run("lint", "--fix")
    assert result.exit_code == 0, result.output
    assert f"packets/{RUN}.md: fixed H602 runId: 'typo-run' -> '{RUN}'" in result.stderr
    assert "Applied 1 fix(es) in 1 file(s)." in result.stderr
    assert "All packets passed." in result.stderr
    after = path.read_text()
    assert after == SEED_MD.replace(f"runId: {RUN}", f"runId: {RUN}  # keep me")


def test_diff_shows_and_writes_nothing(run: Any, root: Path) -> None:
    before = SEED_MD.replace(f"runId: {RUN}", "runId: typo-run")
    path = write_packet(root, f"{RUN}.md", before)
    result = run("lint", "--diff")
    assert result.exit_code == 1
    assert result.stdout.startswith(f"--- a/packets/{RUN}.md\n+++ b/packets/{RUN}.md\n")
    assert "-runId: typo-run\n+runId: " + RUN in result.stdout
    assert "Would apply 1 fix(es) in 1 file(s)" in result.stderr
    assert path.read_text() == before
    run("lint", "--fix")
    result = run("lint", "--diff")
    assert (result.exit_code, result.stdout) == (0, "")
    assert "Nothing to fix." in result.stderr


def test_type_inferred_from_its_template_then_routed(run: Any, root: Path) -> None:
    """An agent dropped handoffType and set a wrong owner: the template gives the type, the
    runbook the owner and due time, with route's history event."""
    text = SEED_MD.replace("handoffType: customer_exception\n", "").replace(
        "ownerRole: customer-success-lead", "ownerRole: business-owner")
    path = write_packet(root, f"{RUN}.md", text)
    assert {f["rule"] for f in json.loads(run("lint", "-f", "json").stdout)} == {"H202"}
    result = run("lint", "--fix")
    assert result.exit_code == 0, result.output
    data = frontmatter(path)
    assert data["handoffType"] == "customer_exception"
    assert data["ownerRole"] == "customer-success-lead"
    assert data["dueBy"] and data["createdAt"]
    assert data["history"][-1]["event"] == "routed"
    assert data["history"][-1]["by"] == "handoff lint --fix"
    assert path.read_text().endswith("---\nThe customer asks for a full refund of 1,240.00 EUR.\n")


def test_no_fix_when_the_template_is_ambiguous(run: Any, root: Path) -> None:
    text = SEED_MD.replace("handoffType: customer_exception\n", "")
    text = text.replace("  orderFile: workspace/refunds/2026-05-24/orders.xlsx\n", "")
    path = write_packet(root, f"{RUN}.md", text)
    result = run("lint", "--fix")
    assert result.exit_code == 1
    assert "H202 'handoffType' is missing" in result.stdout
    assert path.read_text() == text


def test_missing_runid_and_owner_in_a_json_packet(run: Any, root: Path) -> None:
    path = write_packet(root, f"{RUN}.json", seed_json(runId=None, ownerRole=None))
    result = run("lint", "--fix")
    assert result.exit_code == 0, result.output
    data = json.loads(path.read_text())
    assert data["runId"] == RUN and data["ownerRole"] == "customer-success-lead"
    assert path.read_text().startswith('{\n  "handoffType": "customer_exception",\n')


def test_status_from_the_recorded_decision(run: Any, root: Path) -> None:
    text = SEED_MD.replace("---\nThe customer", "decision: {option: offer credit, by: "
                           "maria.lopez@example.com, at: '2026-05-24T16:00:00Z'}\n"
                           "---\nThe customer")
    path = write_packet(root, f"{RUN}.md", text)
    result = run("lint", "--fix", "-f", "json")
    assert "fixed H704 status: missing -> 'decided'" in result.stderr
    assert frontmatter(path)["status"] == "decided"
    assert "H704" not in {f["rule"] for f in json.loads(result.stdout)}


def test_a_suppressed_finding_is_not_fixed(run: Any, root: Path) -> None:
    text = SEED_MD.replace(f"runId: {RUN}", "# handoff: disable=H602\nrunId: typo-run")
    path = write_packet(root, f"{RUN}.md", text)
    result = run("lint", "--fix")
    assert result.exit_code == 0
    assert path.read_text() == text


def test_decided_packets_are_not_rerouted(run: Any, root: Path) -> None:
    text = SEED_MD.replace("ownerRole: customer-success-lead", "ownerRole: business-owner")
    text = text.replace("---\nThe customer", "status: withdrawn\n---\nThe customer")
    path = write_packet(root, f"{RUN}.md", text)
    result = run("lint", "--fix")
    assert path.read_text() == text
    assert "H503" in result.stdout


def test_the_diff_escapes_agent_text(run: Any, root: Path) -> None:
    """The body line next to the appended key shows up as diff context: escapes made visible."""
    text = SEED_MD.replace("handoffType: customer_exception\n", "").replace(
        "The customer asks", "\x1b]0;pwned\x07\x1b[2J The customer asks")
    write_packet(root, f"{RUN}.md", text)
    result = run("lint", "--diff")
    assert result.exit_code == 1
    assert "+handoffType: customer_exception" in result.stdout
    assert "\\x1b]0;pwned" in result.stdout
    assert "\x1b" not in result.stdout + result.stderr
    assert "\x07" not in result.stdout


def test_rules_say_which_are_fixable(run: Any, root: Path) -> None:
    listing = json.loads(run("rules", "--format", "json").stdout)
    fixable = {r["id"] for r in listing if r["fixable"]}
    assert fixable == {"H201", "H202", "H503", "H602", "H704"}
    text = run("rules").stdout
    assert any(line.startswith("H602") and " fix " in line for line in text.splitlines())
