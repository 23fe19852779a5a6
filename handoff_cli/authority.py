"""Who may decide a packet: the role the runbook routes it to (never the packet's own say), and
the roles above it once it is really overdue or escalated by `handoff route`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .runbook import ESCALATED_KEY, Runbook
from .timeutil import later, parse_iso


@dataclass(frozen=True)
class Authority:
    """The runbook's answer for one packet: who owns it, which roles may decide it, and why
    nobody may decide it as it stands (`problem`, None when the packet is in order)."""

    owner: str | None
    roles: tuple[str, ...]
    problem: str | None = None
    escalated: bool = False
    overdue: bool = False

    def admits(self, runbook: Runbook, identity: str | None) -> bool:
        """Whether `identity` is a member of one of the roles that may decide."""
        return self.problem is None and any(runbook.is_member(r, identity) for r in self.roles)


def escalation_events(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The packet's 'escalated' history events, oldest first."""
    history = data.get("history")
    if not isinstance(history, list):
        return []
    return [e for e in history if isinstance(e, dict) and e.get("event") == "escalated"]


def recorded_escalation(data: Mapping[str, Any]) -> str | None:
    """The role the packet is escalated to, if `escalatedTo` is backed by its history event."""
    target = data.get(ESCALATED_KEY)
    if not isinstance(target, str):
        return None
    events = escalation_events(data)
    return target if events and events[-1].get("to") == target else None


def runbook_due(runbook: Runbook, data: Mapping[str, Any]) -> datetime | None:
    """The latest due time the runbook allows: createdAt (or the last escalation or resubmit,
    which restart the clock) plus the type's time to decide; None when the type or createdAt
    is unknown."""
    handoff_type = runbook.types.get(str(data.get("handoffType")))
    created = parse_iso(data.get("createdAt"))
    if handoff_type is None or created is None:
        return None
    start = created
    history = data.get("history")
    restarts = [e for e in history if isinstance(e, dict)
                and e.get("event") in ("escalated", "resubmitted")] if isinstance(history, list) \
        else []
    for event in restarts:
        at = parse_iso(event.get("at"))
        if at is not None and at > start:
            start = at
    return later(start, handoff_type.time_to_decide)  # held at the end of the calendar


def authority_for(runbook: Runbook, data: Mapping[str, Any], now: datetime) -> Authority:
    """Which roles may decide this packet, by the same routing rule `handoff route` uses.

    The packet's ownerRole must agree with the routing; an `escalatedTo` counts only with the
    'escalated' event `route` records. The roles above the routed owner may decide once the
    packet is escalated, or overdue by createdAt plus the runbook's time to decide (a dueBy
    typed into the packet cannot make it overdue sooner).
    """
    type_name = data.get("handoffType")
    if not isinstance(type_name, str) or type_name not in runbook.types:
        what = f"handoffType '{type_name}' is not a type in the runbook" if isinstance(
            type_name, str) else "the packet has no handoffType"
        return Authority(None, (), f"{what}, so the runbook cannot say who decides it")
    base = runbook.routing_for(type_name, {k: v for k, v in data.items() if k != ESCALATED_KEY})
    assert base is not None
    owner = base.owner
    escalated_to = recorded_escalation(data)
    claimed = data.get(ESCALATED_KEY)
    chain = runbook.escalation_chain(owner)
    escalated = escalated_to is not None and escalated_to in chain
    routed = escalated_to if escalated and escalated_to is not None else owner
    given = data.get("ownerRole")
    if isinstance(claimed, str) and not escalated:
        return Authority(owner, (), f"escalatedTo '{claimed}' was not recorded by "
                         "'handoff route' (no matching 'escalated' history event); run "
                         "'handoff route' to repair it")
    if given != routed:
        return Authority(routed, (), f"ownerRole '{given}' is not the runbook's owner "
                         f"'{routed}' ({base.reason}); run 'handoff route' to repair it")
    due = runbook_due(runbook, data)
    overdue = due is not None and due < now
    roles: Sequence[str] = [owner, *chain] if escalated or overdue else [owner]
    return Authority(routed, tuple(roles), None, escalated, overdue)
