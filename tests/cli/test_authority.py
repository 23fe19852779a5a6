"""Authority from the runbook: who may decide comes from the runbook's routing and escalation
chain, never from the packet's own ownerRole; refusals never list members; managed keys."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, seed_json, write_packet

from handoff_cli.api import init_workspace
from handoff_cli.packet import load_packet
from handoff_cli.timeutil import iso

RUN = "refund-review-2026-05-24-1500"
MARIA = "maria.lopez@example.com"  # customer-success-lead
SAM = "sam.okafor@example.com"  # customer-success-lead
DANA = "dana.kim@example.com"  # support-manager, above customer-success-lead


def with_keys(extra: str, text: str = SEED_MD) -> str:
    """The seed packet with frontmatter lines added before the closing fence."""
    head, _, body = text.partition("---\nThe customer")
    return f"{head}{extra}---\nThe customer{body}"


def recent() -> str:
    now = datetime.now(timezone.utc)
    return (f"createdAt: {iso(now - timedelta(minutes=5))}\n"
             f"dueBy: {iso(now + timedelta(hours=3, minutes=55))}\n")


def test_an_edited_owner_role_is_refused_and_nothing_written(run: Any, root: Path) -> None:
    # The runbook routes a 9,000 EUR refund to support-manager; the agent edits one line.
    text = with_keys("amount: 9000\n" + recent())
    path = write_packet(root, f"{RUN}.md", text)
    result = run("decide", RUN, "--option", "approve refund", "--as", MARIA)
    assert result.exit_code == 4, result.output
    assert "run 'handoff route'" in result.stderr
    assert "support-manager" in result.stderr
    assert path.read_text() == text
    # Once routed, only the manager may decide it.
    assert run("route").exit_code == 0
    refused = run("decide", RUN, "--option", "approve refund", "--as", MARIA)
    assert refused.exit_code == 4
    assert run("decide", RUN, "--option", "approve refund", "--as", DANA).exit_code == 0


def test_refusals_never_list_members(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", with_keys(recent()))
    result = run("decide", RUN, "--option", "1", "--as", "mallory@example.com")
    assert result.exit_code == 4
    assert "is not a member of 'customer-success-lead'" in result.stderr
    for member in (MARIA, SAM, DANA):
        assert member not in result.stderr


def test_a_role_above_may_decide_only_once_really_overdue(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", with_keys(recent()))
    assert run("decide", RUN, "-o", "1", "--as", DANA).exit_code == 4
    # A dueBy typed into the past does not make it overdue: createdAt + timeToDecide does.
    now = datetime.now(timezone.utc)
    write_packet(root, f"{RUN}.md", with_keys(
        f"createdAt: {iso(now - timedelta(minutes=5))}\ndueBy: {iso(now - timedelta(hours=1))}\n"))
    assert run("decide", RUN, "-o", "1", "--as", DANA).exit_code == 4
    write_packet(root, f"{RUN}.md", with_keys(
        f"createdAt: {iso(now - timedelta(hours=5))}\ndueBy: {iso(now - timedelta(hours=1))}\n"))
    result = run("decide", RUN, "-o", "1", "--as", DANA)
    assert result.exit_code == 0, result.output


def test_escalation_counts_only_with_its_history_event(run: Any, root: Path) -> None:
    forged = with_keys(recent() + "escalatedTo: support-manager\n").replace(
        "ownerRole: customer-success-lead", "ownerRole: support-manager")
    path = write_packet(root, f"{RUN}.md", forged)
    result = run("decide", RUN, "-o", "1", "--as", DANA)
    assert result.exit_code == 4
    assert "no matching 'escalated' history event" in result.stderr
    assert path.read_text() == forged
    lint = run("lint", "--format", "json", f"packets/{RUN}.md")
    assert "H706" in {f["rule"] for f in json.loads(lint.stdout)}
    # Escalated by route: the manager may decide.
    now = datetime.now(timezone.utc)
    write_packet(root, f"{RUN}.md", with_keys(
        f"createdAt: {iso(now - timedelta(hours=5))}\ndueBy: {iso(now - timedelta(hours=1))}\n"))
    assert run("route", "--escalate").exit_code == 0
    assert load_packet(path).data["escalatedTo"] == "support-manager"
    assert run("decide", RUN, "-o", "1", "--as", DANA).exit_code == 0


def test_authority_comes_before_other_refusals(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", with_keys(recent()))
    assert run("decide", RUN, "-o", "1", "--as", MARIA).exit_code == 0
    # A non-member learns nothing about the decision; the loser of the race learns who and when.
    outsider = run("decide", RUN, "-o", "1", "--as", "mallory@example.com")
    assert outsider.exit_code == 4 and MARIA not in outsider.stderr
    loser = run("decide", RUN, "-o", "2", "--as", SAM)
    assert loser.exit_code == 3
    at = load_packet(root / "packets" / f"{RUN}.md").data["decision"]["at"]
    assert f"already decided by {MARIA} at {at}" in loser.stderr


def test_a_packet_without_handoff_type_is_refused(run: Any, root: Path) -> None:
    text = with_keys(recent()).replace("handoffType: customer_exception\n", "")
    path = write_packet(root, f"{RUN}.md", text)
    result = run("decide", RUN, "-o", "1", "--as", MARIA)
    assert result.exit_code == 4 and "no handoffType" in result.stderr
    assert path.read_text() == text


def test_a_packet_outside_the_queue_is_refused(run: Any, root: Path, tmp_path: Path) -> None:
    stray = tmp_path / "stray" / f"{RUN}.md"
    stray.parent.mkdir()
    text = with_keys(recent())
    stray.write_text(text)
    result = run("decide", str(stray), "-o", "1", "--as", MARIA)
    assert result.exit_code == 4, result.output
    assert "not in this workspace's queue" in result.stderr
    assert stray.read_text() == text
    inside = write_packet(root, "../elsewhere.md", with_keys(recent()))
    assert run("decide", str(inside), "-o", "1", "--as", MARIA).exit_code == 4


def test_another_workspace_packet_is_judged_by_its_own_runbook(run: Any, root: Path,
                                                               tmp_path: Path) -> None:
    other = tmp_path / "other-team"
    init_workspace(other)
    runbook = other / "runbooks" / "default.yaml"
    runbook.write_text(runbook.read_text().replace(MARIA, "olga@example.com"))
    evidence = other / "workspace" / "refunds" / "2026-05-24"  # lint-clean, so decidable
    evidence.mkdir(parents=True)
    for name in ("orders.xlsx", "customer-8241.md", "refund-policy.md"):
        (evidence / name).write_text(f"evidence {name}\n", encoding="utf-8")
    packet = other / "packets" / f"{RUN}.md"
    packet.write_text(with_keys(recent()))
    result = run("decide", str(packet), "-o", "1", "--as", MARIA)
    assert result.exit_code == 4, result.output  # a member here, not there
    assert run("decide", str(packet), "-o", "1", "--as", "olga@example.com").exit_code == 0
    # Forcing this workspace onto it is refused, not judged by this runbook.
    packet.write_text(with_keys(recent()))
    forced = run("--workspace", str(root), "decide", str(packet), "-o", "1", "--as", MARIA)
    assert forced.exit_code == 4 and "not in this workspace's queue" in forced.stderr


def test_an_empty_digest_is_a_usage_error(run: Any, root: Path) -> None:
    text = with_keys(recent())
    path = write_packet(root, f"{RUN}.md", text)
    result = run("decide", RUN, "-o", "1", "--as", MARIA, "--digest", "")
    assert result.exit_code == 2 and "--digest is empty" in result.stderr
    assert path.read_text() == text


@pytest.mark.parametrize("args", [
    ("--set", "status=decided"),
    ("--set", "decision.option=approve refund"),
    ("--set", "escalatedTo=support-manager"),
    ("--set", "dueBy=2030-01-01T00:00:00Z"),
])
def test_new_refuses_managed_keys_from_set(run: Any, root: Path, args: tuple[str, ...]) -> None:
    result = run("new", "customer_exception", "--from-json", "-", *args, input=seed_json())
    assert result.exit_code == 2, result.output
    assert "handoff manages" in result.stderr
    assert not list((root / "packets").iterdir())


@pytest.mark.parametrize("key,value", [
    ("status", "decided"), ("createdAt", "2020-01-01T00:00:00Z"), ("history", []),
    ("decision", {"option": "approve refund", "by": MARIA}),
])
def test_new_refuses_managed_keys_from_json(run: Any, root: Path, key: str, value: Any) -> None:
    result = run("new", "customer_exception", "--from-json", "-",
                 input=seed_json(**{key: value}))
    assert result.exit_code == 2, result.output
    assert f"'{key}'" in result.stderr
    assert not list((root / "packets").iterdir())


def test_show_marks_an_owner_the_runbook_disagrees_with(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", with_keys("amount: 9000\n" + recent()))
    shown = run("show", RUN)
    assert shown.exit_code == 0
    assert "May decide" in shown.stdout and "nobody:" in shown.stdout
    assert "handoff route" in " ".join(shown.stdout.split())
    data = json.loads(run("show", RUN, "--format", "json").stdout)
    assert "support-manager" in data["authorityProblem"]
    assert "nobody:" in run("show", RUN, "--format", "markdown").stdout
    assert run("route").exit_code == 0
    data = json.loads(run("show", RUN, "--format", "json").stdout)
    assert data["authorityProblem"] is None and data["mayDecide"] == [DANA]


def test_a_resubmit_restarts_the_runbook_clock(run: Any, root: Path) -> None:
    now = datetime.now(timezone.utc)
    created = now - timedelta(hours=1)
    path = write_packet(root, f"{RUN}.md", with_keys(
        f"createdAt: {iso(created)}\ndueBy: {iso(created + timedelta(hours=4))}\n"))
    assert run("decide", RUN, "--return", "--missing", "customerTier", "--as", MARIA
               ).exit_code == 0
    assert run("resubmit", RUN, "--set", "customerTier=gold").exit_code == 0
    assert load_packet(path).data["dueBy"] > iso(created + timedelta(hours=4))
    lint = run("lint", "--format", "json", f"packets/{RUN}.md")
    assert "H705" not in {f["rule"] for f in json.loads(lint.stdout)}, lint.stdout
    # A dueBy typed beyond that is still too late.
    path.write_text(path.read_text().replace(load_packet(path).data["dueBy"],
                                             "2099-01-01T00:00:00Z"))
    lint = run("lint", "--format", "json", f"packets/{RUN}.md")
    assert "H705" in {f["rule"] for f in json.loads(lint.stdout)}
