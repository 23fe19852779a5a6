"""`handoff list`: every filter, both queues, the JSON shape, clear errors for unknown values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import seed_json, write_packet

PAST, FUTURE = "2020-01-01T10:00:00Z", "2099-01-01T10:00:00Z"
ROWS = {  # runId: (type, owner, status, dueBy, extra keys)
    "cs-open": ("customer_exception", "customer-success-lead", "open", "2098-06-01T00:00:00Z", {}),
    "send-late": ("external_sending", "business-owner", "open", PAST, {}),
    "data-done": ("data_conflict", "data-owner", "decided", "2020-02-01T00:00:00Z", {}),
    "cs-escalated": ("customer_exception", "support-manager", "open", FUTURE,
                     {"escalatedTo": "support-manager"}),
    "legal-back": ("compliance_concern", "legal-owner", "returned", None, {}),
}


def write_mixed(root: Path) -> None:
    for run_id, (kind, owner, status, due, extra) in ROWS.items():
        text = seed_json(runId=run_id, handoffType=kind, ownerRole=owner, status=status,
                         createdAt="2019-12-31T10:00:00Z", dueBy=due, **extra)
        write_packet(root, f"{run_id}.json", text)
    write_packet(root, "fail.json", seed_json(runId="fail", triggerReason="tool timed out"),
                 folder="exceptions")


@pytest.fixture
def mixed(root: Path) -> Path:
    write_mixed(root)
    return root


def listed(run: Any, *args: str) -> list[dict[str, Any]]:
    result = run("list", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def ids(run: Any, *args: str) -> list[str]:
    return [row["runId"] for row in listed(run, *args)]


def test_sorted_by_due_time_with_undated_last(run: Any, mixed: Path) -> None:
    assert ids(run) == ["send-late", "data-done", "cs-open", "cs-escalated", "legal-back"]


def test_json_shape(run: Any, mixed: Path) -> None:
    row = listed(run, "--type", "external_sending")[0]
    assert row == {
        "runId": "send-late", "handoffType": "external_sending", "ownerRole": "business-owner",
        "status": "open", "createdAt": "2019-12-31T10:00:00Z", "dueBy": PAST, "overdue": True,
        "escalatedTo": None,
        "triggerReason": "Refund amount exceeds standard policy and customer has two prior "
                         "complaints",
        "path": "packets/send-late.json", "problem": None,
        "lintErrors": 6,  # a refund's options and evidence on an external_sending packet
        "verified": None, "verification": None,  # decisions.signatures is off
    }


@pytest.mark.parametrize(("args", "expected"), [
    (("--owner", "customer-success-lead"), ["cs-open"]),
    (("--owner", "data-owner", "--owner", "legal-owner"), ["data-done", "legal-back"]),
    (("--status", "open"), ["send-late", "cs-open", "cs-escalated"]),
    (("--status", "returned"), ["legal-back"]),
    (("--type", "customer_exception"), ["cs-open", "cs-escalated"]),
    (("--overdue",), ["send-late"]),  # a decided packet past its due time is not overdue
    (("--type", "customer_exception", "--status", "decided"), []),
    (("--exceptions",), ["fail"]),
    (("--exceptions", "--owner", "data-owner"), []),
])
def test_filters(run: Any, mixed: Path, args: tuple[str, ...], expected: list[str]) -> None:
    assert ids(run, *args) == expected


def test_mine_uses_the_identity_roles(run: Any, mixed: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert ids(run, "--mine", "--as", "dana.kim@example.com") == ["cs-escalated"]
    monkeypatch.setenv("HANDOFF_USER", "Maria.Lopez@example.com")
    assert ids(run, "--mine") == ["cs-open"]
    assert ids(run, "--mine", "--owner", "data-owner") == ["data-done", "cs-open"]


def test_mine_in_no_role_is_empty_with_a_note(run: Any, mixed: Path) -> None:
    result = run("list", "--mine", "--as", "stranger@example.com", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    assert "stranger@example.com is a member of no role" in result.stderr


def test_mine_without_identity_is_a_usage_error(run: Any, mixed: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "none"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    result = run("list", "--mine")
    assert result.exit_code == 2
    assert "--mine needs an identity" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("--type", "refund"), "unknown handoff type 'refund' for --type; the runbook has: "
                           "customer_exception, external_sending, compliance_concern, "
                           "data_conflict"),
    (("--owner", "boss"), "unknown role 'boss' for --owner; the runbook has: "
                          "customer-success-lead, support-manager, business-owner, legal-owner, "
                          "data-owner"),
    (("--status", "pending"), "unknown status 'pending' for --status; one of: open, decided"),
    (("--format", "xml"), "--format must be one of table, json"),
])
def test_unknown_values_exit_2(run: Any, mixed: Path, args: tuple[str, ...], message: str) -> None:
    result = run("list", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_table(run: Any, mixed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "220")
    result = run("list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].rstrip() == "Review queue (5)"
    header = next(line for line in lines if "runId" in line)
    for column in ("runId", "type", "owner", "status", "age", "due", "trigger"):
        assert column in header
    late = next(line for line in lines if "send-late" in line)
    assert "OVERDUE" in late and "ago" in late
    assert "support-manager (escalated)" in result.stdout


def test_empty_queues(run: Any, root: Path) -> None:
    assert run("list").stdout == "Review queue: empty\n"
    assert run("list", "--exceptions").stdout == "Exception queue: empty\n"


def test_unreadable_packet_is_a_row(run: Any, mixed: Path) -> None:
    write_packet(mixed, "broken.md", "no frontmatter here\n")
    [row] = [r for r in listed(run) if r["path"] == "packets/broken.md"]
    assert row["status"] == "invalid"
    assert row["problem"].startswith("H106")


@pytest.mark.parametrize("columns", [60, 80, 119, 120, 200])
def test_table_fits_the_terminal_and_never_cuts_a_run_id(runner: Any, mixed: Path,
                                                         columns: int) -> None:
    from handoff_cli.cli import app

    result = runner.invoke(app, ["-w", str(mixed), "list"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line) <= columns for line in lines), lines
    for run_id in ROWS:
        assert any(run_id in line for line in lines), run_id
    assert "OVERDUE" in result.stdout
