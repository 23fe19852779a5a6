"""`handoff route`: a mixed workspace routed, escalated and split, with dry-run changing nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SEED_MD, seed_json, write_packet

SEED_RUN = "refund-review-2026-05-24-1500"
OVERDUE = "createdAt: 2020-01-01T08:00:00Z\ndueBy: 2020-01-01T12:00:00Z\n"
FRESH = "createdAt: 2099-01-01T08:00:00Z\ndueBy: 2099-01-01T12:00:00Z\n"


def md(run_id: str, extra: str = "", owner: str | None = "customer-success-lead",
       trigger: str | None = None) -> str:
    """The seed as Markdown under another runId, with an owner, trigger and extra keys."""
    text = SEED_MD.replace(SEED_RUN, run_id)
    text = text.replace("ownerRole: customer-success-lead\n",
                        f"ownerRole: {owner}\n" if owner else "")
    if trigger:
        text = text.replace("triggerReason: Refund amount exceeds standard policy and customer "
                            "has two prior complaints", f"triggerReason: {trigger}")
    return text.replace("---\nThe customer", f"{extra}---\nThe customer")


def write_mixed(root: Path) -> None:
    write_packet(root, "no-owner.md", md("no-owner", FRESH, owner=None))
    write_packet(root, "big.md", md("big", FRESH + "amount: 12000\n"))
    write_packet(root, "vip.json", seed_json(runId="vip", customerTier="VIP",
                                             createdAt="2099-01-01T08:00:00Z",
                                             dueBy="2099-01-01T12:00:00Z"))
    write_packet(root, "late.md", md("late", OVERDUE))
    write_packet(root, "fail.md", md("fail", FRESH, trigger="Permission denied reading the CRM"))
    write_packet(root, "done.md", md("done", OVERDUE + "status: decided\n", owner="data-owner"))
    write_packet(root, "ok.md", md("ok", FRESH))


@pytest.fixture
def mixed(root: Path) -> Path:
    write_mixed(root)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and ".handoff" not in p.parts}


def route_json(run: Any, *args: str) -> dict[str, Any]:
    result = run("route", "--format", "json", "--as", "ops@example.com", *args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def changed(report: dict[str, Any]) -> set[tuple[str, str, str | None]]:
    return {(c["runId"], c["field"], c["to"]) for c in report["changes"]}


def test_dry_run_is_byte_identical(run: Any, mixed: Path) -> None:
    before = snapshot(mixed)
    for args in (("--dry-run",), ("--dry-run", "--escalate"), ("-n", "--format", "json")):
        result = run("route", *args)
        assert result.exit_code == 0, result.output
        assert snapshot(mixed) == before
    report = route_json(run, "--dry-run", "--escalate")
    assert report["dryRun"] is True
    assert changed(report) == {
        ("no-owner", "ownerRole", "customer-success-lead"),
        ("big", "ownerRole", "support-manager"),
        ("vip", "ownerRole", "support-manager"),
        ("fail", "location", "exceptions/fail.md"),
        ("late", "ownerRole", "support-manager"),
        ("late", "escalatedTo", "support-manager"),
        ("late", "dueBy", next(c["to"] for c in report["changes"]
                              if (c["runId"], c["field"]) == ("late", "dueBy"))),
    }
    assert snapshot(mixed) == before


def test_route_then_lint_agrees(run: Any, mixed: Path) -> None:
    report = route_json(run)
    assert report["dryRun"] is False
    assert ("late", "ownerRole", "support-manager") not in changed(report)  # no --escalate
    assert not (mixed / "packets" / "fail.md").exists()
    assert (mixed / "exceptions" / "fail.md").is_file()
    assert yaml.safe_load((mixed / "packets" / "big.md").read_text().split("---")[1])[
        "ownerRole"] == "support-manager"
    assert json.loads((mixed / "packets" / "vip.json").read_text())["ownerRole"] == (
        "support-manager")
    lint = json.loads(run("lint", "--format", "json").stdout)
    assert not [f for f in lint if f["rule"] in ("H503", "H505") and "done" not in f["path"]]
    again = run("route")
    assert again.stdout == "Nothing to route: every packet matches the runbook.\n"


def test_escalate_overdue(run: Any, mixed: Path) -> None:
    route_json(run)
    report = route_json(run, "--escalate")
    assert {(c["runId"], c["field"]) for c in report["changes"]} == {
        ("late", "ownerRole"), ("late", "escalatedTo"), ("late", "dueBy")}
    owner_change = next(c for c in report["changes"] if c["field"] == "ownerRole")
    assert owner_change == {
        "runId": "late", "path": "packets/late.md", "field": "ownerRole",
        "from": "customer-success-lead", "to": "support-manager",
        "reason": "overdue since 2020-01-01T12:00:00Z; 'customer-success-lead' escalates to "
                  "'support-manager'"}
    data = yaml.safe_load((mixed / "packets" / "late.md").read_text().split("---")[1])
    assert data["escalatedTo"] == "support-manager"
    assert data["history"][-1]["event"] == "escalated"
    assert data["history"][-1]["by"] == "ops@example.com"
    # Plain route keeps the escalation; lint accepts the escalated owner.
    assert route_json(run)["changes"] == []
    lint = json.loads(run("lint", "--format", "json", "packets/late.md").stdout)
    assert "H503" not in {f["rule"] for f in lint}
    listed = json.loads(run("list", "--format", "json", "--owner", "support-manager").stdout)
    assert {row["runId"]: row["escalatedTo"] for row in listed}["late"] == "support-manager"


def test_table_output(run: Any, mixed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    result = run("route", "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].strip() == "Would change 4"
    assert "rule 1 of customer_exception: amount > 5000" in result.stdout
    assert "exceptions/fail.md" in result.stdout
    assert run("route").stdout.splitlines()[0].strip() == "Changed 4"


def test_paths_and_notes(run: Any, mixed: Path) -> None:
    report = route_json(run, "packets/big.md", "packets/done.md")
    assert changed(report) == {("big", "ownerRole", "support-manager")}
    write_packet(mixed, "broken.md", "---\nrunId: [unclosed\n---\n")
    result = run("route", "packets/broken.md")
    assert result.exit_code == 0
    assert "handoff: packets/broken.md: not routed: H108" in result.stderr
    missing = run("route", "packets/nope.md")
    assert missing.exit_code == 1
    assert "packets/nope.md: no such packet file or folder" in missing.stderr


def test_exception_move_refuses_to_overwrite(run: Any, mixed: Path) -> None:
    write_packet(mixed, "fail.md", "keep me\n", folder="exceptions")
    result = run("route", "packets/fail.md")
    assert "not moved: exceptions/fail.md already exists" in result.stderr
    assert (mixed / "exceptions" / "fail.md").read_text() == "keep me\n"
    assert (mixed / "packets" / "fail.md").is_file()


def test_broken_rule_is_exit_2_with_file_and_line(run: Any, mixed: Path) -> None:
    runbook = mixed / "runbooks" / "default.yaml"
    text = runbook.read_text()
    runbook.write_text(text.replace('{amount: "> 5000"}', '{amount: "> five thousand"}'))
    line = text[: text.index('{amount: "> 5000"}')].count("\n") + 1
    result = run("route")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"handoff: error: runbooks/default.yaml:{line}: broken runbook: ")
    assert "'> five thousand' compares with 'five thousand', which is not a number" in (
        result.stderr)


def test_new_routes_by_field_rule(run: Any, root: Path) -> None:
    result = run("new", "customer_exception", "--set", "runId=big-refund",
                 "--set", "amount=9000", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads((root / "packets" / "big-refund.json").read_text())
    assert data["ownerRole"] == "support-manager"
