"""Review and decide: the review view of a packet, recording a decision or a return, and the
agent's side (status, wait, close). Returns frozen dataclasses or raises HandoffError.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import ConflictError, HandoffError, NotAllowedError, PacketError, UsageError
from .packet import (
    LoadFailure,
    Packet,
    content_digest,
    evidence_entries,
    is_overdue,
    load_packet,
)
from .timeutil import iso, now_utc
from .workspace import Workspace, resolve_inside

DECIDABLE = frozenset({"open"})
CLOSABLE = frozenset({"decided", "returned"})
SETTLED = frozenset({"decided", "returned", "withdrawn", "closed"})


@dataclass(frozen=True)
class EvidenceRow:
    """One evidence entry as the reviewer sees it; `problem` says why it cannot be opened."""

    name: str
    path: str
    exists: bool
    size: int | None = None
    modified: str | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "exists": self.exists, "size": self.size,
                "modified": self.modified, "problem": self.problem}


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
        }


@dataclass(frozen=True)
class Recorded:
    """What decide, return_packet or close wrote."""

    path: Path
    run_id: str
    status: str
    event: Mapping[str, Any]


@dataclass(frozen=True)
class PacketStatus:
    """The agent's view of a packet: its status, the decision and what to do next."""

    run_id: str
    path: str
    status: str
    decision: Mapping[str, Any] | None
    option: OptionRow | None
    next_action: str
    missing: tuple[str, ...]
    outcome: str | None

    @property
    def settled(self) -> bool:
        """Decided, returned, withdrawn or closed: the agent may stop waiting."""
        return self.status in SETTLED

    def as_dict(self) -> dict[str, Any]:
        option = None if self.option is None else {"label": self.option.label,
                                                     "risk": self.option.risk}
        return {"runId": self.run_id, "path": self.path, "status": self.status,
                "decision": dict(self.decision) if self.decision is not None else None,
                "option": option, "missing": list(self.missing),
                "agentNextActionAfterDecision": self.next_action, "outcome": self.outcome}


# -- loading and the view ---------------------------------------------------------------------


def load(workspace: Workspace, ref: str | Path) -> Packet:
    """Load a packet by path or runId; an unloadable file is a PacketError naming the line."""
    from .api import resolve_packet_path

    path = resolve_packet_path(workspace, str(ref))
    return reload(workspace, path)


def reload(workspace: Workspace, path: Path) -> Packet:
    """Load the packet at `path` (again)."""
    try:
        return load_packet(path, workspace.settings.max_file_bytes)
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
        if "://" in value:
            rows.append(EvidenceRow(name, value, False, problem="a URL; not checked"))
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
        rows.append(EvidenceRow(name, value, True, stat.st_size if real.is_file() else None,
                                modified, None if real.is_file() else "not a file"))
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


def view_of(workspace: Workspace, packet: Packet, now: datetime | None = None) -> ReviewView:
    """The review view of a loaded packet."""
    data = packet.data
    runbook = workspace.runbook
    type_name = _text(data, "handoffType")
    owner = _text(data, "ownerRole")
    role = runbook.roles.get(owner)
    handoff_type = runbook.types.get(type_name)
    history = data.get("history")
    decision = data.get("decision")
    outcome = data.get("outcome")
    return ReviewView(
        path=workspace.relative(packet.path), kind=packet.kind,
        run_id=packet.run_id or packet.path.stem, status=packet.status,
        handoff_type=type_name, category=handoff_type.category if handoff_type else None,
        created_at=_text(data, "createdAt") or None, due_by=_text(data, "dueBy") or None,
        overdue=is_overdue(data, now or now_utc()),
        goal=_text(data, "agentGoal"), trigger=_text(data, "triggerReason"),
        evidence=evidence_rows(workspace, data), options=option_rows(data),
        owner_role=owner, members=role.members if role else (),
        next_action=_text(data, "agentNextActionAfterDecision"), body=packet.body,
        history=tuple(e for e in history if isinstance(e, dict)) if isinstance(history, list)
        else (),
        decision=decision if isinstance(decision, dict) else None,
        outcome=outcome if isinstance(outcome, str) else None,
        digest=content_digest(packet),
    )


def review(workspace: Workspace, ref: str | Path, now: datetime | None = None) -> ReviewView:
    """The review view of a packet by path or runId."""
    return view_of(workspace, load(workspace, ref), now)


# -- checks -------------------------------------------------------------------------------------


def choose_option(options: Sequence[OptionRow], choice: str) -> OptionRow:
    """The option a reviewer named: its exact label, its label ignoring case, or its number."""
    wanted = choice.strip()
    tests: tuple[Callable[[OptionRow], bool], ...] = (
        lambda o: o.label == wanted,
        lambda o: o.label.strip().casefold() == wanted.casefold(),
        lambda o: wanted.isdigit() and o.number == int(wanted),
    )
    for matches in tests:
        found = [option for option in options if matches(option)]
        if len(found) == 1:
            return found[0]
    labels = ", ".join(f"{o.number}. '{o.label}'" for o in options) or "none"
    raise UsageError(f"'{choice}' is not one of the packet's options: {labels}")


def check_status(workspace: Workspace, packet: Packet, allowed: frozenset[str],
                 action: str) -> None:
    """Refuse (exit 3) an action the packet's current status does not allow."""
    status = packet.status
    shown = workspace.relative(packet.path)
    if status in allowed:
        return
    decision = packet.data.get("decision")
    who = ""
    if isinstance(decision, dict) and decision.get("by"):
        who = f" by {decision.get('by')} at {decision.get('at')}"
    if status == "decided":
        raise ConflictError(f"already decided{who}; nothing recorded", shown)
    raise ConflictError(f"cannot {action} a packet whose status is '{status}'{who}", shown)


def check_member(workspace: Workspace, packet: Packet, identity: str | None) -> str:
    """The reviewer's identity, if it may decide for the packet's owner role (else exit 4)."""
    runbook = workspace.runbook
    owner = _text(packet.data, "ownerRole")
    shown = workspace.relative(packet.path)
    role = runbook.roles.get(owner)
    if role is None:
        raise NotAllowedError(f"ownerRole '{owner}' is not a role in the runbook; "
                              "run 'handoff route' to repair it", shown)
    if not identity:
        if role.members:
            raise NotAllowedError(f"only members of '{owner}' may decide, and no identity is "
                                  "set: pass --as EMAIL or set HANDOFF_USER", shown)
        raise UsageError("who is deciding? pass --as EMAIL, set HANDOFF_USER or "
                         "git config user.email")
    if not runbook.is_member(owner, identity):
        raise NotAllowedError(f"'{identity}' is not a member of '{owner}' (members: "
                              f"{', '.join(role.members)}); nothing recorded", shown)
    return identity


def check_can_decide(workspace: Workspace, ref: str | Path, identity: str | None) -> ReviewView:
    """Before prompting: the packet is open and the reviewer may decide it; its view."""
    packet = load(workspace, ref)
    check_status(workspace, packet, DECIDABLE, "decide")
    check_member(workspace, packet, identity)
    return view_of(workspace, packet)


# -- writing ------------------------------------------------------------------------------------


@contextlib.contextmanager
def locked(workspace: Workspace, ref: str | Path, timeout: float = 10.0) -> Iterator[Packet]:
    """Hold the packet's lock and yield it freshly read under the lock."""
    from .store import lock_key, packet_lock

    first = load(workspace, ref)
    with packet_lock(workspace.state_dir, lock_key(first.run_id, first.path), timeout):
        yield reload(workspace, first.path)


def write_keys(workspace: Workspace, packet: Packet, updates: Mapping[str, Any]) -> None:
    """Set managed keys in the packet's text, byte-preserving everything else, and replace it."""
    from .editing import EditError, set_keys

    try:
        text = set_keys(packet.text, "json" if packet.kind == "json" else "md", dict(updates))
    except EditError as exc:
        raise PacketError(f"cannot record safely: {exc}",
                          workspace.relative(packet.path)) from None
    from .store import lock_key, replace_file

    replace_file(workspace.state_dir, packet.path, lock_key(packet.run_id, packet.path), text)


def _history(packet: Packet, event: Mapping[str, Any]) -> list[Any]:
    history = packet.data.get("history")
    return [*(history if isinstance(history, list) else []), dict(event)]


def _check_seen(workspace: Workspace, packet: Packet, seen_digest: str | None) -> str:
    digest = content_digest(packet)
    if seen_digest is not None and seen_digest != digest:
        raise ConflictError("the packet changed while deciding (its content is not what was "
                            "shown); nothing recorded: review it again",
                            workspace.relative(packet.path))
    return digest


def decide(workspace: Workspace, ref: str | Path, option: str, note: str | None = None,
           identity: str | None = None, seen_digest: str | None = None,
           now: datetime | None = None) -> Recorded:
    """Record the owner's decision: status 'decided', `decision` and a history event.

    `seen_digest` is the digest of the view the reviewer saw; a packet whose content changed
    since is refused (ConflictError), as is one already decided.
    """
    with locked(workspace, ref) as packet:
        check_status(workspace, packet, DECIDABLE, "decide")
        by = check_member(workspace, packet, identity)
        chosen = choose_option(option_rows(packet.data), option)
        digest = _check_seen(workspace, packet, seen_digest)
        at = iso(now or now_utc())
        note = note.strip() if note and note.strip() else None
        decision = {"option": chosen.label, "by": by, "at": at, "note": note, "digest": digest}
        event = {"event": "decided", "at": at, "by": by, "option": chosen.label}
        if note:
            event["note"] = note
        write_keys(workspace, packet, {"status": "decided", "decision": decision,
                                       "history": _history(packet, event)})
    return Recorded(packet.path, packet.run_id or packet.path.stem, "decided", event)


def return_packet(workspace: Workspace, ref: str | Path, missing: Sequence[str],
                  note: str | None = None, identity: str | None = None,
                  seen_digest: str | None = None, now: datetime | None = None) -> Recorded:
    """Send the packet back to the agent (status 'returned'), naming what is missing."""
    fields = [m.strip() for m in missing if m and m.strip()]
    if not fields:
        raise UsageError("a return must name what is missing: --missing FIELD")
    with locked(workspace, ref) as packet:
        check_status(workspace, packet, DECIDABLE, "return")
        by = check_member(workspace, packet, identity)
        digest = _check_seen(workspace, packet, seen_digest)
        at = iso(now or now_utc())
        note = note.strip() if note and note.strip() else None
        decision = {"option": None, "by": by, "at": at, "note": note, "digest": digest,
                    "missing": fields}
        event: dict[str, Any] = {"event": "returned", "at": at, "by": by, "missing": fields}
        if note:
            event["note"] = note
        write_keys(workspace, packet, {"status": "returned", "decision": decision,
                                       "history": _history(packet, event)})
    return Recorded(packet.path, packet.run_id or packet.path.stem, "returned", event)


def close(workspace: Workspace, ref: str | Path, outcome: str, identity: str | None = None,
          now: datetime | None = None) -> Recorded:
    """The agent resumed: status 'closed', an `outcome` and a history event."""
    if not outcome or not outcome.strip():
        raise UsageError("--outcome must say what the agent did after the decision")
    with locked(workspace, ref) as packet:
        check_status(workspace, packet, CLOSABLE, "close")
        at = iso(now or now_utc())
        event = {"event": "closed", "at": at, "by": identity or "agent",
                 "outcome": outcome.strip()}
        write_keys(workspace, packet, {"status": "closed", "outcome": outcome.strip(),
                                       "history": _history(packet, event)})
    return Recorded(packet.path, packet.run_id or packet.path.stem, "closed", event)


# -- the agent's side -------------------------------------------------------------------------


def status_of(workspace: Workspace, packet: Packet) -> PacketStatus:
    """The agent's view of a loaded packet."""
    data = packet.data
    decision = data.get("decision")
    decision = decision if isinstance(decision, dict) else None
    chosen = None
    missing: tuple[str, ...] = ()
    if decision is not None:
        label = decision.get("option")
        chosen = next((o for o in option_rows(data) if o.label == label), None)
        if isinstance(decision.get("missing"), list):
            missing = tuple(str(m) for m in decision["missing"])
    outcome = data.get("outcome")
    return PacketStatus(
        run_id=packet.run_id or packet.path.stem, path=workspace.relative(packet.path),
        status=packet.status, decision=decision, option=chosen,
        next_action=_text(data, "agentNextActionAfterDecision"), missing=missing,
        outcome=outcome if isinstance(outcome, str) else None,
    )


def status(workspace: Workspace, ref: str | Path) -> PacketStatus:
    """The status, decision, chosen option and next action of a packet."""
    return status_of(workspace, load(workspace, ref))


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def wait(workspace: Workspace, ref: str | Path, timeout: float | None,
         clock: Callable[[], float] = time.monotonic,
         sleep: Callable[[float], None] = time.sleep,
         interval: float = 0.1, max_interval: float = 2.0) -> PacketStatus:
    """Block until the packet is settled (decided, returned, withdrawn or closed).

    Polls the file's mtime, size and inode, reloading only when they change, with a backoff
    from `interval` to `max_interval`. timeout None waits forever; 0 checks once.
    Raises WaitTimeout.
    """
    from .api import resolve_packet_path
    from .errors import WaitTimeout

    path = resolve_packet_path(workspace, str(ref))
    deadline = None if timeout is None else clock() + max(timeout, 0.0)
    seen: tuple[int, int, int] | None = None
    delay = interval
    while True:
        signature = _signature(path)
        if signature is not None and signature != seen:
            seen = signature
            try:
                current = status_of(workspace, reload(workspace, path))
            except PacketError:
                current = None  # mid-edit by hand; look again when it changes
            if current is not None and current.settled:
                return current
            delay = interval
        remaining = None if deadline is None else deadline - clock()
        if remaining is not None and remaining <= 0:
            raise WaitTimeout(f"no decision after {timeout:g}s; status is still "
                              f"'{current_status(workspace, path)}'", workspace.relative(path))
        step = delay if remaining is None else min(delay, remaining)
        sleep(step)
        delay = min(delay * 1.5, max_interval)


def current_status(workspace: Workspace, path: Path) -> str:
    """The packet's status, or 'unreadable'."""
    try:
        return reload(workspace, path).status
    except HandoffError:
        return "unreadable"
