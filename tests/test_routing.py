"""Routing by the library: owner repair, field rules, due times, escalation, exception moves."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import SEED_MD, seed_json, write_packet

from handoff_cli.api import lint
from handoff_cli.errors import NotFoundError
from handoff_cli.packet import load_packet
from handoff_cli.routing import route_packets
from handoff_cli.workspace import Workspace

NOW = datetime(2026, 5, 24, 18, 0, tzinfo=timezone.utc)
SEED_RUN = "refund-review-2026-05-24-1500"


def packet_md(run_id: str, extra: str = "", owner: str | None = "customer-success-lead",
              trigger: str | None = None) -> str:
    """The seed packet as Markdown, renamed, with keys changed or added before the fence."""
    text = SEED_MD.replace(SEED_RUN, run_id)
    if owner is None:
        text = text.replace("ownerRole: customer-success-lead\n", "")
    else:
        text = text.replace("ownerRole: customer-success-lead", f"ownerRole: {owner}")
    if trigger is not None:
        text = text.replace("triggerReason: Refund amount exceeds standard policy and customer "
                            "has two prior complaints", f"triggerReason: {trigger}")
    head, _, body = text.partition("---\nThe customer")
    return f"{head}{extra}---\nThe customer{body}"


def front(path: Path) -> dict[str, Any]:
    return load_packet(path).data


def route(workspace: Workspace, *paths: Path, **options: Any) -> Any:
    return route_packets(workspace, list(paths), now=NOW, actor="ops@example.com", **options)


def test_sets_missing_owner_created_and_due(workspace: Workspace, root: Path) -> None:
    path = write_packet(root, "a.md", packet_md("a", owner=None))
    report = route(workspace)
    assert [(c.field, c.old, c.new) for c in report.changes] == [
        ("ownerRole", None, "customer-success-lead"),
        ("createdAt", None, "2026-05-24T18:00:00Z"),
        ("dueBy", None, "2026-05-24T22:00:00Z"),  # createdAt + 4h
    ]
    data = front(path)
    assert (data["ownerRole"], data["createdAt"], data["dueBy"]) == (
        "customer-success-lead", "2026-05-24T18:00:00Z", "2026-05-24T22:00:00Z")
    assert data["history"] == [{"event": "routed", "at": "2026-05-24T18:00:00Z",
                                "by": "ops@example.com", "from": None,
                                "to": "customer-success-lead",
                                "reason": "owner of customer_exception"}]
    # The body and every unmanaged line are kept byte for byte.
    text = path.read_text()
    assert text.endswith("---\nThe customer asks for a full refund of 1,240.00 EUR.\n")
    assert "evidence:\n  orderFile: workspace/refunds/2026-05-24/orders.xlsx\n" in text
    assert route(workspace).changes == ()  # idempotent


def test_due_from_existing_created_at(workspace: Workspace, root: Path) -> None:
    path = write_packet(root, "a.md", packet_md("a", "createdAt: 2026-05-20T09:00:00Z\n"))
    report = route(workspace)
    assert [(c.field, c.new) for c in report.changes] == [("dueBy", "2026-05-20T13:00:00Z")]
    assert front(path)["createdAt"] == "2026-05-20T09:00:00Z"
    assert "history" not in front(path)  # filling a due time is not an ownership event


def test_repairs_a_wrong_owner_by_field_rule(workspace: Workspace, root: Path) -> None:
    extra = "amount: 7200\ncreatedAt: 2026-05-24T17:00:00Z\ndueBy: 2026-05-24T21:00:00Z\n"
    path = write_packet(root, "big.md", packet_md("big", extra))
    report = route(workspace)
    [change] = report.changes
    assert (change.field, change.old, change.new) == (
        "ownerRole", "customer-success-lead", "support-manager")
    assert change.reason == "rule 1 of customer_exception: amount > 5000"
    assert front(path)["ownerRole"] == "support-manager"
    assert not [f for f in lint(workspace, [path]) if f.rule == "H503"]


def test_json_packet_is_edited_in_place(workspace: Workspace, root: Path) -> None:
    path = write_packet(root, f"{SEED_RUN}.json", seed_json(ownerRole="data-owner"))
    route(workspace)
    data = json.loads(path.read_text())
    assert data["ownerRole"] == "customer-success-lead"
    assert list(data)[:3] == ["handoffType", "runId", "agentGoal"]  # key order kept


@pytest.mark.parametrize("status", ["decided", "closed", "withdrawn"])
def test_decided_packets_are_not_rerouted(workspace: Workspace, root: Path, status: str) -> None:
    text = packet_md("d", f"status: {status}\n", owner="data-owner",
                     trigger="could not read the order file")
    path = write_packet(root, "d.md", text)
    assert route(workspace, escalate=True).changes == ()
    assert path.read_text() == text


def test_exception_move(workspace: Workspace, root: Path) -> None:
    text = packet_md("fail", trigger="File read failed, orders.xlsx is locked")
    old = write_packet(root, "fail.md", text)
    report = route(workspace)
    [change] = report.changes
    assert (change.field, change.old, change.new) == (
        "location", "packets/fail.md", "exceptions/fail.md")
    assert "file_read_failed" in change.reason
    assert not old.exists()
    moved = root / "exceptions" / "fail.md"
    assert moved.read_text().startswith(text[: text.index("---\nThe customer")])
    assert moved.read_text().endswith("---\nThe customer asks for a full refund of 1,240.00 EUR.\n")
    assert front(moved)["history"] == [{"event": "exception", "at": "2026-05-24T18:00:00Z",
                                        "by": "ops@example.com", "trigger": "file_read_failed",
                                        "from": "packets/fail.md"}]
    assert route(workspace).changes == ()  # exceptions/ is not routed again


def test_exception_move_never_overwrites(workspace: Workspace, root: Path) -> None:
    text = packet_md("fail", trigger="permission denied on the CRM")
    old = write_packet(root, "fail.md", text)
    existing = write_packet(root, "fail.md", "already here\n", folder="exceptions")
    report = route(workspace)
    assert report.changes == ()
    assert [n.message for n in report.notes] == ["not moved: exceptions/fail.md already exists"]
    assert old.read_text() == text
    assert existing.read_text() == "already here\n"


def test_exception_move_keeps_subfolders(workspace: Workspace, root: Path) -> None:
    write_packet(root, "team/fail.md", packet_md("fail", trigger="tool timed out"))
    route(workspace)
    assert (root / "exceptions" / "team" / "fail.md").is_file()


OVERDUE = "createdAt: 2026-05-24T08:00:00Z\ndueBy: 2026-05-24T12:00:00Z\n"


def test_escalates_an_overdue_packet(workspace: Workspace, root: Path) -> None:
    path = write_packet(root, "late.md", packet_md("late", OVERDUE))
    assert route(workspace).changes == ()  # plain route never escalates
    report = route(workspace, escalate=True)
    assert [(c.field, c.old, c.new) for c in report.changes] == [
        ("ownerRole", "customer-success-lead", "support-manager"),
        ("escalatedTo", None, "support-manager"),
        ("dueBy", "2026-05-24T12:00:00Z", "2026-05-24T22:00:00Z"),
    ]
    data = front(path)
    assert data["history"][-1] == {
        "event": "escalated", "at": "2026-05-24T18:00:00Z", "by": "ops@example.com",
        "from": "customer-success-lead", "to": "support-manager",
        "overdueSince": "2026-05-24T12:00:00Z"}
    # Plain route does not repair it back, and lint does not call it a wrong owner.
    assert route(workspace).changes == ()
    assert not [f for f in lint(workspace, [path]) if f.rule == "H503"]


def test_escalation_stops_at_the_top(workspace: Workspace, root: Path) -> None:
    path = write_packet(root, "late.md", packet_md("late", OVERDUE + "amount: 9000\n",
                                                   owner="support-manager"))
    text = path.read_text()
    report = route(workspace, escalate=True)
    assert report.changes == ()
    assert [n.message for n in report.notes] == [
        "overdue since 2026-05-24T12:00:00Z, but role 'support-manager' has no escalatesTo"]
    assert path.read_text() == text


def test_not_overdue_is_not_escalated(workspace: Workspace, root: Path) -> None:
    extra = "createdAt: 2026-05-24T17:00:00Z\ndueBy: 2026-05-24T21:00:00Z\n"
    write_packet(root, "fresh.md", packet_md("fresh", extra))
    assert route(workspace, escalate=True).changes == ()


def test_returned_packets_are_routed_but_not_escalated(workspace: Workspace, root: Path) -> None:
    path = write_packet(root, "r.md", packet_md("r", OVERDUE + "status: returned\n",
                                                owner="legal-owner"))
    report = route(workspace, escalate=True)
    assert [c.field for c in report.changes] == ["ownerRole"]
    assert front(path)["ownerRole"] == "customer-success-lead"


def test_a_forged_escalation_is_repaired(workspace: Workspace, root: Path) -> None:
    extra = ("createdAt: 2026-05-24T17:00:00Z\ndueBy: 2026-05-24T21:00:00Z\n"
             "escalatedTo: legal-owner\n")
    path = write_packet(root, "forged.md", packet_md("forged", extra, owner="legal-owner"))
    assert [f.rule for f in lint(workspace, [path]) if f.rule == "H503"] == ["H503"]
    report = route(workspace)
    assert [(c.field, c.new) for c in report.changes] == [
        ("ownerRole", "customer-success-lead"), ("escalatedTo", None)]
    data = front(path)
    assert data["ownerRole"] == "customer-success-lead" and "escalatedTo" not in data


def test_dry_run_changes_nothing(workspace: Workspace, root: Path) -> None:
    files = {
        "a.md": packet_md("a", owner=None),
        "late.md": packet_md("late", OVERDUE),
        "fail.md": packet_md("fail", trigger="missing source orders.xlsx"),
        f"{SEED_RUN}.json": seed_json(ownerRole="data-owner"),
    }
    for name, text in files.items():
        write_packet(root, name, text)
    before = snapshot(root)
    report = route(workspace, escalate=True, dry_run=True)
    assert report.dry_run
    assert {c.run_id for c in report.changes} == {"a", "late", "fail", SEED_RUN}
    assert snapshot(root) == before
    applied = route(workspace, escalate=True)
    assert applied.changes == report.changes


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and ".handoff" not in p.parts}


def test_unroutable_packets_are_notes(workspace: Workspace, root: Path) -> None:
    write_packet(root, "broken.md", "no frontmatter\n")
    write_packet(root, "odd.md", packet_md("odd").replace("customer_exception", "mystery"))
    report = route(workspace)
    assert report.changes == ()
    messages = {n.path: n.message for n in report.notes}
    assert messages["packets/broken.md"].startswith("not routed: H106")
    assert messages["packets/odd.md"].startswith("not routed: unknown handoff type 'mystery'")


def test_explicit_paths(workspace: Workspace, root: Path) -> None:
    a = write_packet(root, "a.md", packet_md("a", owner=None))
    b = write_packet(root, "b.md", packet_md("b", owner=None))
    route(workspace, a)
    assert "ownerRole" in front(a) and "ownerRole" not in front(b)
    with pytest.raises(NotFoundError):
        route(workspace, root / "packets" / "nope.md")


def test_history_is_appended(workspace: Workspace, root: Path) -> None:
    extra = OVERDUE + "history:\n  - event: created\n    at: 2026-05-24T08:00:00Z\n    by: agent\n"
    path = write_packet(root, "h.md", packet_md("h", extra))
    route(workspace, escalate=True)
    events = [e["event"] for e in front(path)["history"]]
    assert events == ["created", "escalated"]
    assert yaml.safe_load(path.read_text().split("---")[1])["history"][0]["by"] == "agent"


def test_escalation_is_not_part_of_the_reviewed_content(workspace: Workspace, root: Path) -> None:
    from handoff_cli.packet import content_digest

    plain = write_packet(root, "a.md", packet_md("a"))
    marked = write_packet(root, "b.md", packet_md("a", "escalatedTo: support-manager\n"))
    assert content_digest(load_packet(plain)) == content_digest(load_packet(marked))
