"""The review view of a packet: loading by path or runId, evidence and options as the reviewer
sees them. Returns frozen dataclasses or raises HandoffError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import PacketError
from .packet import (
    MANAGED_KEYS,
    LoadFailure,
    Packet,
    content_digest,
    evidence_entries,
    is_overdue,
    load_packet,
)
from .timeutil import iso, now_utc
from .workspace import Workspace, resolve_inside, resolve_packet_path

URL = re.compile(r"^https?://[^\s]+$", re.IGNORECASE)
DECIDABLE = frozenset({"open"})
CLOSABLE = frozenset({"decided", "returned"})
SETTLED = frozenset({"decided", "returned", "withdrawn", "closed", "resolved"})


@dataclass(frozen=True)
class EvidenceRow:
    """One evidence entry as the reviewer sees it; `problem` says why it cannot be opened."""

    name: str
    path: str
    exists: bool
    size: int | None = None
    modified: str | None = None
    problem: str | None = None
    url: bool = False  # an http(s) link: shown as a link, never fetched
    real_path: Path | None = None  # the resolved file inside the workspace, for links

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "exists": self.exists, "size": self.size,
                "modified": self.modified, "problem": self.problem, "url": self.url}


@dataclass(frozen=True)
class OptionRow:
    """A numbered option and its risk."""

    number: int
    label: str
    risk: str

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "label": self.label, "risk": self.risk}


@dataclass(frozen=True)
class ReviewView:
    """Everything the review view shows, and the digest of the content it shows."""

    path: str
    kind: str
    run_id: str
    status: str
    handoff_type: str
    category: str | None
    created_at: str | None
    due_by: str | None
    overdue: bool
    goal: str
    trigger: str
    evidence: tuple[EvidenceRow, ...]
    options: tuple[OptionRow, ...]
    owner_role: str
    members: tuple[str, ...]  # empty: anyone may decide
    next_action: str
    body: str
    history: tuple[Mapping[str, Any], ...]
    decision: Mapping[str, Any] | None
    outcome: str | None
    digest: str
    authority_problem: str | None = None  # why the runbook lets nobody decide it as it stands
    extra: tuple[tuple[str, Any], ...] = ()  # keys the agent wrote beyond the standard ones
    routed_because: str | None = None  # why the packet went to its owner role
    lint_errors: int = 0  # "not ready" when above 0
    # With decisions.signatures on and a decision recorded: whether it verifies, why, and
    # whether that fails `handoff verify` (a forgery, or unsigned where signatures are required).
    verified: bool | None = None
    verification: str | None = None
    forged: bool = False

    @property
    def settled(self) -> bool:
        """Decided, returned, withdrawn or closed: no longer waiting, so no due time applies."""
        return self.status in SETTLED

    def as_dict(self) -> dict[str, Any]:
        """The view as JSON-ready data (packet keys keep their camelCase names)."""
        return {
            "runId": self.run_id, "path": self.path, "status": self.status,
            "handoffType": self.handoff_type, "category": self.category,
            "createdAt": self.created_at, "dueBy": self.due_by, "overdue": self.overdue,
            "agentGoal": self.goal, "triggerReason": self.trigger,
            "evidence": [row.as_dict() for row in self.evidence],
            "options": [row.as_dict() for row in self.options],
            "ownerRole": self.owner_role, "mayDecide": list(self.members) or None,
            "agentNextActionAfterDecision": self.next_action, "body": self.body,
            "history": [dict(event) for event in self.history],
            "decision": dict(self.decision) if self.decision is not None else None,
            "outcome": self.outcome, "digest": self.digest,
            "authorityProblem": self.authority_problem,
            "extra": {key: value for key, value in self.extra},
            "routedBecause": self.routed_because, "lintErrors": self.lint_errors,
            "verified": self.verified, "verification": self.verification,
        }


# -- loading and the view ---------------------------------------------------------------------


def load(workspace: Workspace, ref: str | Path) -> Packet:
    """Load a packet by path or runId; an unloadable file is a PacketError naming the line."""
    return reload(workspace, resolve_packet_path(workspace, str(ref)))


def reload(workspace: Workspace, path: Path) -> Packet:
    """Load the packet at `path` (again)."""
    try:
        return load_packet(path, workspace.settings.max_file_bytes,
                           workspace.real_root_text)
    except LoadFailure as failure:
        raise PacketError(f"{failure.code} {failure.message}", workspace.relative(path),
                          failure.line) from None


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ("" if value is None else str(value))


def evidence_rows(workspace: Workspace, data: Mapping[str, Any]) -> tuple[EvidenceRow, ...]:
    """Stat each evidence path inside the workspace (never outside it, never opened)."""
    rows: list[EvidenceRow] = []
    for name, value in evidence_entries(dict(data)):
        if URL.match(value):
            rows.append(EvidenceRow(name, value, False, url=True))
            continue
        if "://" in value:
            rows.append(EvidenceRow(name, value, False, problem="a URL that is not http(s)"))
            continue
        real, reason = resolve_inside(workspace, value)
        if real is None:
            rows.append(EvidenceRow(name, value, False, problem=reason))
            continue
        try:
            stat = real.stat()
        except OSError:
            rows.append(EvidenceRow(name, value, False, problem="missing"))
            continue
        modified = iso(datetime.fromtimestamp(stat.st_mtime, timezone.utc))
        is_file = real.is_file()
        rows.append(EvidenceRow(name, value, True, stat.st_size if is_file else None,
                                modified, None if is_file else "not a file",
                                real_path=real if is_file else None))
    return tuple(rows)


def option_rows(data: Mapping[str, Any]) -> tuple[OptionRow, ...]:
    """The packet's options, numbered from 1 (entries without a label are skipped)."""
    options = data.get("options")
    if not isinstance(options, list):
        return ()
    rows: list[OptionRow] = []
    for option in options:
        if isinstance(option, dict) and isinstance(option.get("label"), str):
            rows.append(OptionRow(len(rows) + 1, option["label"], _text(option, "risk")))
    return tuple(rows)


# The keys the view shows in their own places (the packet schema's and the managed ones);
# every other key the agent wrote is shown as it is, under "More from the agent".
STANDARD_KEYS = frozenset({
    "handoffType", "runId", "agentGoal", "triggerReason", "evidence", "options", "ownerRole",
    "agentNextActionAfterDecision", *MANAGED_KEYS,
})


def extra_keys(data: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The keys beyond the standard ones, in the order the agent wrote them."""
    return tuple((key, value) for key, value in data.items() if key not in STANDARD_KEYS)


def routing_reason(workspace: Workspace, data: Mapping[str, Any]) -> str | None:
    """Why the packet is with its owner role: the runbook rule that matched, the type's
    default owner, an escalation, or that the runbook routes it elsewhere."""
    runbook = workspace.runbook
    type_name = _text(data, "handoffType")
    routing = runbook.routing_for(type_name, data)
    if routing is None:
        return None
    reason = routing.reason
    if reason.startswith("owner of "):
        reason = f"the default owner of {type_name}"
    if routing.owner != _text(data, "ownerRole"):
        return (f"the runbook routes it to {routing.owner} ({reason}); run 'handoff route' "
                "to repair it")
    return reason


def view_of(workspace: Workspace, packet: Packet, now: datetime | None = None,
            lint_errors: int | None = None) -> ReviewView:
    """The review view of a loaded packet (`lint_errors` when already counted)."""
    from .lint.engine import error_counts

    if lint_errors is None:
        lint_errors = error_counts(workspace, [packet.path])[packet.path]
    from .authority import authority_for

    data = packet.data
    runbook = workspace.runbook
    type_name = _text(data, "handoffType")
    owner = _text(data, "ownerRole")
    role = runbook.roles.get(owner)
    authority = authority_for(runbook, data, now or now_utc())
    members: tuple[str, ...] = role.members if role else ()
    if authority.problem is None:  # who the runbook admits: the owner, and the chain if due
        members = tuple(dict.fromkeys(m for r in authority.roles if r in runbook.roles
                                      for m in runbook.roles[r].members))
        if any(not runbook.roles[r].members for r in authority.roles if r in runbook.roles):
            members = ()
    handoff_type = runbook.types.get(type_name)
    history = data.get("history")
    decision = data.get("decision")
    outcome = data.get("outcome")
    from .signing import decision_verdict, failed

    verdict = decision_verdict(workspace, packet)
    return ReviewView(
        path=workspace.relative(packet.path), kind=packet.kind,
        run_id=packet.run_id or packet.path.stem, status=packet.status,
        handoff_type=type_name, category=handoff_type.category if handoff_type else None,
        created_at=_text(data, "createdAt") or None, due_by=_text(data, "dueBy") or None,
        overdue=is_overdue(data, now or now_utc()),
        goal=_text(data, "agentGoal"), trigger=_text(data, "triggerReason"),
        evidence=evidence_rows(workspace, data), options=option_rows(data),
        owner_role=owner, members=members,
        next_action=_text(data, "agentNextActionAfterDecision"),
        body=packet.body if packet.kind == "md" else _text(data, "body"),
        history=tuple(e for e in history if isinstance(e, dict)) if isinstance(history, list)
        else (),
        decision=decision if isinstance(decision, dict) else None,
        outcome=outcome if isinstance(outcome, str) else None,
        digest=content_digest(packet), authority_problem=authority.problem,
        extra=extra_keys(data),
        routed_because=routing_reason(workspace, data),
        lint_errors=lint_errors,
        verified=None if verdict is None else verdict.verified,
        verification=None if verdict is None else verdict.reason,
        forged=verdict is not None and failed(workspace, verdict),
    )


def review(workspace: Workspace, ref: str | Path, now: datetime | None = None) -> ReviewView:
    """The review view of a packet by path or runId."""
    return view_of(workspace, load(workspace, ref), now)


# -- opening evidence ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceTarget:
    """What `handoff open` opens: a file inside the workspace, or an http(s) URL."""

    name: str
    path: Path | None = None
    url: str | None = None


def evidence_target(workspace: Workspace, ref: str | Path, name: str) -> EvidenceTarget:
    """The evidence entry `name` of a packet, resolved inside the workspace (never outside it:
    an absolute path, `..` or a symlink out is refused, as is anything but a file or folder)."""
    import stat as stat_module

    from .errors import NotFoundError

    packet = load(workspace, ref)
    shown = workspace.relative(packet.path)
    entries = dict(evidence_entries(packet.data))
    if name not in entries:
        names = ", ".join(entries) or "none"
        raise NotFoundError(f"no evidence named '{name}' in the packet (it has: {names})", shown)
    value = entries[name]
    if URL.match(value):
        return EvidenceTarget(name, url=value)
    real, reason = resolve_inside(workspace, value)
    if real is None:
        raise PacketError(f"evidence '{name}' path '{value}' {reason}; not opened", shown)
    try:
        mode = real.stat().st_mode
    except OSError:
        raise NotFoundError(f"evidence '{name}' path '{value}' does not exist", shown) from None
    if not (stat_module.S_ISREG(mode) or stat_module.S_ISDIR(mode)):
        raise PacketError(f"evidence '{name}' path '{value}' is not a regular file; not opened",
                          shown)
    return EvidenceTarget(name, path=real)
