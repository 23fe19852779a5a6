"""The review library: decide, return, close, status and wait, byte preservation and lint."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, seed_json, write_packet
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from handoff_cli import agent, decisions, review, store
from handoff_cli.api import lint
from handoff_cli.errors import (
    ConflictError,
    NotAllowedError,
    PacketError,
    UsageError,
    WaitTimeout,
)
from handoff_cli.packet import MANAGED_KEYS, content_digest, load_packet
from handoff_cli.workspace import Workspace

RUN = "refund-review-2026-05-24-1500"
MARIA = "maria.lopez@example.com"

# A hand-written packet: comments, quoting styles, flow style, folded and literal scalars, an
# unknown key, and a managed key (status) in the middle with a comment of its own.
HAND_WRITTEN = """\
---
# Written by hand by the refund agent's author.
handoffType: customer_exception   # planned handoff
runId: "refund-review-2026-05-24-1500"
status: open  # set by handoff
agentGoal: >-
  Prepare refund decision material
  for high-value requests
triggerReason: 'Refund amount exceeds standard policy and customer has two prior complaints'
evidence: {orderFile: workspace/refunds/2026-05-24/orders.xlsx,
  conversationSummary: "workspace/refunds/2026-05-24/customer-8241.md",
  policyExcerpt: workspace/refunds/2026-05-24/refund-policy.md}

options:
  - label: approve refund
    risk: "sets exception precedent"   # the usual worry
  - {label: offer credit, risk: may not satisfy customer}
  - label: escalate to manager
    risk: |
      slower response
ownerRole: customer-success-lead
ticket: "SUP-4411"       # unknown keys are kept
agentNextActionAfterDecision: draft reply and keep Trust Mode on Confirm before sending
---
The customer asks for a **full refund** of 1,240.00 EUR.

---
A thematic break above is part of the body, not a fence.
"""

# What deciding it writes: `status` changes in place (its comment kept), `decision` and
# `history` are added at the end of the frontmatter; every other byte is as written.
HAND_WRITTEN_DECIDED = HAND_WRITTEN.replace(
    "status: open  # set by handoff", "status: decided  # set by handoff"
).replace(
    "agentNextActionAfterDecision: draft reply and keep Trust Mode on Confirm before sending\n",
    "agentNextActionAfterDecision: draft reply and keep Trust Mode on Confirm before sending\n"
    "decision:\n"
    "  option: offer credit\n"
    "  by: maria.lopez@example.com\n"
    "  at: '2026-05-24T16:00:00Z'\n"
    "  note: credit of 200 EUR\n"
    "  digest: DIGEST\n"
    "history:\n"
    "  - event: decided\n"
    "    at: '2026-05-24T16:00:00Z'\n"
    "    by: maria.lopez@example.com\n"
    "    option: offer credit\n"
    "    note: credit of 200 EUR\n",
)


def at(text: str) -> Any:
    from handoff_cli.timeutil import parse_iso

    return parse_iso(text)


def seed(root: Path, text: str = SEED_MD, name: str = f"{RUN}.md") -> Path:
    return write_packet(root, name, text)


def errors_of(workspace: Workspace, path: Path) -> list[str]:
    return [f.rule for f in lint(workspace, [path]) if f.severity == "error"]


# -- decide -----------------------------------------------------------------------------------


def test_decide_preserves_every_byte_of_a_hand_written_packet(workspace: Workspace,
                                                              root: Path) -> None:
    path = seed(root, HAND_WRITTEN)
    digest = content_digest(load_packet(path))
    decisions.decide(workspace, RUN, "offer credit", "credit of 200 EUR", MARIA,
                  seen_digest=digest, now=at("2026-05-24T16:00:00Z"))
    assert path.read_bytes().decode() == HAND_WRITTEN_DECIDED.replace("DIGEST", digest)


def test_decided_packet_lints_clean_and_an_edit_afterwards_is_h703(workspace: Workspace,
                                                                   root: Path) -> None:
    path = seed(root, HAND_WRITTEN)
    assert errors_of(workspace, path) == []
    decisions.decide(workspace, RUN, "approve refund", None, MARIA)
    assert errors_of(workspace, path) == []
    path.write_text(path.read_text().replace("1,240.00 EUR", "12,400.00 EUR"))
    assert errors_of(workspace, path) == ["H703"]


def test_decision_by_a_non_member_written_by_hand_is_h702(workspace: Workspace,
                                                          root: Path) -> None:
    path = seed(root)
    decisions.decide(workspace, RUN, "approve refund", None, MARIA)
    path.write_text(path.read_text().replace(f"by: {MARIA}", "by: mallory@example.com", 1))
    assert "H702" in errors_of(workspace, path)


def test_decide_json_packet_keeps_its_layout(workspace: Workspace, root: Path) -> None:
    path = seed(root, seed_json(), f"{RUN}.json")
    before = path.read_text()
    decisions.decide(workspace, RUN, "2", "ok", MARIA)
    after = path.read_text()
    assert after.startswith(before.rstrip().removesuffix("}").rstrip())
    data = load_packet(path).data
    assert data["status"] == "decided"
    assert data["decision"]["option"] == "offer credit"
    assert errors_of(workspace, path) == []


@pytest.mark.parametrize("choice", ["offer credit", "OFFER CREDIT", " 2 "])
def test_option_by_label_case_or_number(workspace: Workspace, root: Path, choice: str) -> None:
    seed(root)
    done = decisions.decide(workspace, RUN, choice, None, MARIA)
    assert done.event["option"] == "offer credit"


def test_unknown_option_is_a_usage_error_and_writes_nothing(workspace: Workspace,
                                                            root: Path) -> None:
    path = seed(root)
    with pytest.raises(UsageError, match="not one of the packet's options"):
        decisions.decide(workspace, RUN, "refund twice", None, MARIA)
    assert path.read_text() == SEED_MD


def test_second_decision_is_a_conflict(workspace: Workspace, root: Path) -> None:
    path = seed(root)
    decisions.decide(workspace, RUN, "1", None, MARIA)
    decided = path.read_bytes()
    with pytest.raises(ConflictError, match="already decided by maria"):
        decisions.decide(workspace, RUN, "2", None, "sam.okafor@example.com")
    assert path.read_bytes() == decided


def test_changed_while_deciding_is_a_conflict(workspace: Workspace, root: Path) -> None:
    path = seed(root)
    seen = review.review(workspace, RUN).digest
    path.write_text(SEED_MD.replace("1,240.00", "2,480.00"))
    with pytest.raises(ConflictError, match="changed while deciding"):
        decisions.decide(workspace, RUN, "1", None, MARIA, seen_digest=seen)
    assert "status" not in load_packet(path).data


def test_managed_key_changes_do_not_count_as_content_changes(workspace: Workspace,
                                                             root: Path) -> None:
    path = seed(root)
    seen = review.review(workspace, RUN).digest
    path.write_text(SEED_MD.replace("---\nThe", "dueBy: '2026-05-25T00:00:00Z'\n---\nThe"))
    decisions.decide(workspace, RUN, "1", None, MARIA, seen_digest=seen)


def test_non_member_is_refused_and_nothing_written(workspace: Workspace, root: Path) -> None:
    path = seed(root)
    with pytest.raises(NotAllowedError, match="not a member of 'customer-success-lead'"):
        decisions.decide(workspace, RUN, "1", None, "mallory@example.com")
    with pytest.raises(NotAllowedError, match="no identity"):
        decisions.decide(workspace, RUN, "1", None, None)
    assert path.read_text() == SEED_MD


def test_unloadable_packet_is_a_packet_error(workspace: Workspace, root: Path) -> None:
    write_packet(root, f"{RUN}.md", "---\nrunId: [unclosed\n---\n")
    with pytest.raises(PacketError, match="H108"):
        decisions.decide(workspace, RUN, "1", None, MARIA)


# -- return and close ---------------------------------------------------------------------------


def test_return_names_what_is_missing(workspace: Workspace, root: Path) -> None:
    path = seed(root)
    decisions.return_packet(workspace, RUN, ["orderFile", "shipping proof"], "need proof", MARIA)
    data = load_packet(path).data
    assert data["status"] == "returned"
    assert data["decision"]["option"] is None
    assert data["decision"]["missing"] == ["orderFile", "shipping proof"]
    assert data["history"][-1]["event"] == "returned"
    assert errors_of(workspace, path) == []
    with pytest.raises(UsageError):
        decisions.return_packet(workspace, RUN, [" "], None, MARIA)


def test_close_only_after_decided_or_returned(workspace: Workspace, root: Path) -> None:
    path = seed(root)
    with pytest.raises(ConflictError, match="status is 'open'"):
        decisions.close(workspace, RUN, "resumed")
    decisions.decide(workspace, RUN, "1", None, MARIA)
    decisions.close(workspace, RUN, "sent the refund", "agent@example.com")
    data = load_packet(path).data
    assert data["status"] == "closed"
    assert data["outcome"] == "sent the refund"
    assert [e["event"] for e in data["history"]] == ["decided", "closed"]
    assert errors_of(workspace, path) == []
    with pytest.raises(ConflictError):
        decisions.close(workspace, RUN, "again")


# -- status and wait ----------------------------------------------------------------------------


def test_status_gives_the_chosen_option_and_next_action(workspace: Workspace,
                                                        root: Path) -> None:
    seed(root)
    assert agent.status(workspace, RUN).as_dict()["status"] == "open"
    decisions.decide(workspace, RUN, "escalate to manager", "over my limit", MARIA)
    result = agent.status(workspace, RUN).as_dict()
    assert result["option"] == {"label": "escalate to manager", "risk": "slower response"}
    assert result["decision"]["note"] == "over my limit"
    assert result["agentNextActionAfterDecision"].startswith("draft reply")


class FakeTime:
    """An injectable clock: sleeping advances it, and a hook can act at a given sleep."""

    def __init__(self, on_sleep: Any = None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep(len(self.sleeps))


def test_wait_times_out_without_busy_looping(workspace: Workspace, root: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    seed(root)
    loads: list[Path] = []
    real_reload = agent.reload
    monkeypatch.setattr(agent, "reload", lambda ws, p: loads.append(p) or real_reload(ws, p))
    fake = FakeTime()
    with pytest.raises(WaitTimeout, match="still 'open'"):
        agent.wait(workspace, RUN, 60, clock=fake.clock, sleep=fake.sleep)
    assert sum(fake.sleeps) == pytest.approx(60)
    assert len(fake.sleeps) < 50  # backoff, not a busy loop
    assert fake.sleeps[:3] == sorted(fake.sleeps[:3]) and max(fake.sleeps) <= 2.0
    assert len(loads) == 2  # read once, and once more for the timeout message; never re-read


def test_wait_zero_checks_once(workspace: Workspace, root: Path) -> None:
    seed(root)
    fake = FakeTime()
    with pytest.raises(WaitTimeout):
        agent.wait(workspace, RUN, 0, clock=fake.clock, sleep=fake.sleep)
    assert fake.sleeps == []


def test_wait_returns_when_decided(workspace: Workspace, root: Path) -> None:
    seed(root)

    def decide_on_third(count: int) -> None:
        if count == 3:
            decisions.decide(workspace, RUN, "1", None, MARIA)

    fake = FakeTime(decide_on_third)
    result = agent.wait(workspace, RUN, 60, clock=fake.clock, sleep=fake.sleep)
    assert result.status == "decided" and result.option is not None
    assert len(fake.sleeps) == 3


def test_wait_returns_when_returned(workspace: Workspace, root: Path) -> None:
    seed(root)
    decisions.return_packet(workspace, RUN, ["orderFile"], None, MARIA)
    result = agent.wait(workspace, RUN, 0)
    assert result.status == "returned" and result.missing == ("orderFile",)


# -- atomic writes --------------------------------------------------------------------------------


def test_replace_file_stages_outside_the_packet_folder(workspace: Workspace, root: Path) -> None:
    path = seed(root)
    path.chmod(0o640)
    stale = workspace.state_dir / "tmp" / f"{store.TEMP_PREFIX}{RUN}{store.KEY_END}killed"
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text("left by a kill -9")
    store.replace_file(workspace.state_dir, path, RUN, "new text\n")
    assert path.read_text() == "new text\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    assert list(stale.parent.iterdir()) == []


def test_a_hostile_run_id_cannot_place_the_lock_or_temp_file_elsewhere(workspace: Workspace,
                                                                       root: Path) -> None:
    path = seed(root, SEED_MD.replace(f"runId: {RUN}", "runId: ../../../escaped"))
    decisions.decide(workspace, RUN, "1", None, MARIA, force=True)  # not lint-clean
    assert load_packet(path).data["status"] == "decided"
    assert not list(root.parent.rglob("escaped*"))
    assert (workspace.state_dir / "locks" / f"{RUN}.lock").exists()


# -- property: decide preserves every byte outside the managed keys ---------------------------

TOP_KEY = re.compile(r"^(?:[A-Za-z_][\w-]*|\"[^\"]*\"|'[^']*'):(?:[ \t\r\n]|$)")
WORDS = st.text(alphabet="abcdefghij XYZ0123456789.,;!?-_()/é€", min_size=1, max_size=24)


def plain_ok(value: str) -> bool:
    import yaml

    try:
        return yaml.safe_load(f"k: {value}") == {"k": value}
    except yaml.YAMLError:
        return False


@st.composite
def scalar(draw: Any) -> str:
    value = draw(WORDS).strip() or "x"
    style = draw(st.sampled_from(["plain", "single", "double", "folded", "literal", "flow",
                                  "block-map", "number"]))
    if style == "plain" and plain_ok(value):
        return f" {value}"
    if style == "single":
        return " '" + value.replace("'", "''") + "'"
    if style == "folded":
        return " >-\n  " + value + "\n  " + draw(WORDS).strip().replace("#", "") + "x"
    if style == "literal":
        return " |\n  " + value + "\n\n  " + draw(WORDS) + "x"
    if style == "flow":
        return " [" + ", ".join(f'"{draw(WORDS)}"' for _ in range(draw(st.integers(0, 3)))) + "]"
    if style == "block-map":
        return "\n  inner: \"" + value.replace("\"", "") + "\"\n  other: 7"
    if style == "number":
        return f" {draw(st.integers(-10**6, 10**6))}"
    return " " + __import__("json").dumps(value)


@st.composite
def hand_written(draw: Any) -> str:
    extras = draw(st.lists(st.from_regex(r"x[a-zA-Z0-9]{0,6}", fullmatch=True), unique=True,
                           max_size=6))
    blocks = [f"{key}:{draw(scalar())}" for key in extras]
    blocks += [
        "handoffType: customer_exception",
        f"runId: {draw(st.sampled_from([RUN, repr(RUN), chr(34) + RUN + chr(34)]))}",
        "ownerRole: customer-success-lead",
        draw(st.sampled_from([
            "options: [{label: approve refund, risk: precedent}, {label: reject, risk: anger}]",
            "options:\n  - label: approve refund\n    risk: precedent  # why\n  - label: reject\n"
            "    risk: >-\n      anger\n      and churn",
        ])),
    ]
    if draw(st.booleans()):
        blocks.append("status: open   # managed")
    if draw(st.booleans()):
        blocks.append("history: [{event: created, at: '2026-05-24T15:00:00Z'}]")
    order = draw(st.permutations(blocks))
    lines = []
    for block in order:
        if draw(st.booleans()):
            lines.append("# " + draw(WORDS))
        if draw(st.booleans()):
            lines.append("")
        comment = draw(st.sampled_from(["", "  # note", "\t# tab comment"]))
        first, *rest = block.split("\n")
        if not first.rstrip().endswith(("|", ">-")) and not rest:
            first += comment
        lines.append("\n".join([first, *rest]))
    body = draw(st.text(alphabet="abc XYZ#*-\n`[]()", max_size=80))
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    return ("---\n" + "\n".join(lines) + "\n---\n" + body).replace("\n", eol)


def unmanaged_projection(text: str) -> tuple[str, str]:
    """The frontmatter without managed top-level key blocks, and the body."""
    first = text.index("\n") + 1
    closing = re.search(r"^---\r?$", text[first:], re.M)
    assert closing is not None
    front, body = text[first:first + closing.start()], text[first + closing.end():]
    kept, managed = [], False
    for line in front.splitlines(keepends=True):
        if TOP_KEY.match(line):
            managed = line.split(":", 1)[0].strip("'\"") in MANAGED_KEYS
        if not managed:
            kept.append(line)
    return "".join(kept), body


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=hand_written())
def test_decide_preserves_bytes_outside_managed_keys(workspace: Workspace, root: Path,
                                                     text: str) -> None:
    path = root / "packets" / f"{RUN}.md"
    path.write_bytes(text.encode())
    try:
        before = load_packet(path)
    except Exception:
        assume(False)
        raise
    decisions.decide(workspace, RUN, "reject", "no", MARIA, force=True)
    after_text = path.read_bytes().decode()
    after = load_packet(path)
    assert unmanaged_projection(after_text) == unmanaged_projection(text)
    assert {k: v for k, v in after.data.items() if k not in MANAGED_KEYS} == \
        {k: v for k, v in before.data.items() if k not in MANAGED_KEYS}
    assert after.data["decision"]["digest"] == content_digest(before) == content_digest(after)
    assert after.data["status"] == "decided"
