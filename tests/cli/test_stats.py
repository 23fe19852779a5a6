"""`handoff stats`: counts, time to decision per owner, overdue, and returns by missing field."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import seed_json, write_packet

from handoff_cli.stats import stats_for

CREATED = "2026-05-01T08:00:00Z"


def decided(run_id: str, owner: str, hours: float, via_history: bool = False) -> str:
    at = (datetime(2026, 5, 1, 8, tzinfo=timezone.utc) + timedelta(hours=hours))
    stamp = at.isoformat().replace("+00:00", "Z")
    history = [{"event": "created", "at": CREATED, "by": "agent"},
               {"event": "decided", "at": stamp, "by": "someone", "option": "send"}]
    decision = {} if via_history else {"decision": {"option": "send", "by": "x", "at": stamp}}
    return seed_json(runId=run_id, ownerRole=owner, status="decided", createdAt=CREATED,
                     dueBy="2026-05-01T12:00:00Z", history=history, **decision)


def returned(run_id: str, *missing: list[str]) -> str:
    history = [{"event": "returned", "at": "2026-05-02T08:00:00Z", "by": "x", "missing": m}
               for m in missing]
    return seed_json(runId=run_id, status="returned", createdAt=CREATED,
                     decision={"option": None, "by": "x", "at": "2026-05-02T08:00:00Z",
                               "missing": missing[-1] if missing else []},
                     history=history)


@pytest.fixture
def mixed(root: Path) -> Path:
    lead = "customer-success-lead"
    for run_id, owner, hours in (("d1", lead, 1), ("d2", lead, 2), ("d3", lead, 10),
                                 ("d4", "business-owner", 0.5)):
        write_packet(root, f"{run_id}.json", decided(run_id, owner, hours))
    write_packet(root, "d5.json", decided("d5", "business-owner", 1.5, via_history=True))
    write_packet(root, "r1.json", returned("r1", ["orderFile"], ["orderFile", "policyExcerpt"]))
    write_packet(root, "r2.json", returned("r2", ["orderFile"]))
    # A returned packet from before history recorded returns: decision.missing still counts.
    write_packet(root, "r3.json", seed_json(runId="r3", status="returned",
                                            decision={"missing": ["recipients"]}))
    write_packet(root, "late.json", seed_json(runId="late", handoffType="data_conflict",
                                              ownerRole="data-owner", dueBy="2020-01-01T00:00:00Z"))
    write_packet(root, "open.json", seed_json(runId="open", dueBy="2099-01-01T00:00:00Z"))
    write_packet(root, "broken.md", "not a packet\n")
    write_packet(root, "fail.json", seed_json(runId="fail"), folder="exceptions")
    return root


def test_stats_json(run: Any, mixed: Path) -> None:
    result = run("stats", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data == {
        "total": 10,
        "byStatus": {"decided": 5, "open": 2, "returned": 3},
        "byType": {"customer_exception": 9, "data_conflict": 1},
        "byOwner": {"customer-success-lead": 7, "business-owner": 2, "data-owner": 1},
        "overdue": 1,
        "invalid": 1,
        "exceptions": 1,
        "timeToDecision": {
            "business-owner": {"count": 2, "medianSeconds": 3600, "p90Seconds": 5400},
            "customer-success-lead": {"count": 3, "medianSeconds": 7200, "p90Seconds": 36000},
        },
        "returnedPackets": 3,
        "returnsByMissingField": {"orderFile": 3, "policyExcerpt": 1, "recipients": 1},
        "warnings": [
            "'orderFile' was missing in 3 returns: change the agent's design (instructions, "
            "tools or template) so that it collects orderFile; reviewers should not keep "
            "asking for it"],
        "unverifiedDecisions": 0,
    }
    assert "handoff: warning: 'orderFile' was missing in 3 returns" in result.stderr


def test_stats_table(run: Any, mixed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    result = run("stats")
    assert result.exit_code == 0
    out = result.stdout
    assert out.startswith("10 packets, 1 overdue, 1 in the exception queue, 1 unreadable\n")
    for title in ("By status", "By type", "By owner", "Time to decision",
                  "Returns by missing field"):
        assert title in out
    row = next(line for line in out.splitlines() if "customer-success-lead" in line
               and "2h" in line)
    assert [cell for cell in re.split(r"[\s│┃]+", row) if cell][-4:] == [
        "customer-success-lead", "3", "2h", "10h"]
    assert "'orderFile' was missing in 3 returns" in result.stderr


def test_empty_workspace(run: Any, root: Path) -> None:
    result = run("stats")
    assert result.stdout == "0 packets, 0 overdue, 0 in the exception queue\n"
    data = json.loads(run("stats", "-f", "json").stdout)
    assert data["total"] == 0 and data["timeToDecision"] == {} and data["warnings"] == []


def test_bad_format(run: Any, root: Path) -> None:
    result = run("stats", "--format", "csv")
    assert result.exit_code == 2
    assert "--format must be one of table, json" in result.stderr


NOW = datetime(2026, 5, 24, tzinfo=timezone.utc)


def test_library_edge_cases() -> None:
    packets = [
        # decided before it was created (clock skew): not counted
        {"status": "closed", "ownerRole": "a", "createdAt": "2026-05-02T00:00:00Z",
         "decision": {"at": "2026-05-01T00:00:00Z"}},
        # closed counts as decided; createdAt from the history's created event
        {"status": "closed", "ownerRole": "a", "history": [
            {"event": "created", "at": "2026-05-01T00:00:00Z"},
            {"event": "decided", "at": "2026-05-01T06:00:00Z"}]},
        # open with a decision-looking history is not a decision
        {"status": "open", "ownerRole": "a", "createdAt": "2026-05-01T00:00:00Z",
         "history": [{"event": "decided", "at": "2026-05-01T01:00:00Z"}, "junk"]},
        {"status": 7, "history": "not a list", "dueBy": "2020-01-01T00:00:00Z"},
    ]
    stats = stats_for(packets, now=NOW, repeat_threshold=2)
    [times] = stats.decision_times
    assert (times.owner, times.count, times.median) == ("a", 1, timedelta(hours=6))
    assert stats.overdue == 1  # a packet without a status string is open
    assert stats.by_owner == {"a": 3, "?": 1}
