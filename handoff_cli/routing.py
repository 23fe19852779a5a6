"""`handoff route`: set and repair owner and due time, escalate overdue packets, move failures.

`plan_packet` decides what changes (pure); `route_packets` applies plans under each packet's lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .errors import NotFoundError
from .packet import LoadFailure, Packet, load_packet
from .runbook import ESCALATED_KEY, Runbook
from .timeutil import duration_text, iso, later, now_utc, parse_iso
from .workspace import PACKET_SUFFIXES, Workspace, packet_files

# Decided, withdrawn and closed packets keep the owner they were decided under.
ROUTABLE = frozenset({"open", "returned"})


@dataclass(frozen=True)
class RouteChange:
    """One change `route` made (or would make) to one packet."""

    run_id: str
    path: str  # where the packet was, relative to the workspace
    field: str  # ownerRole, escalatedTo, createdAt, dueBy or location
    old: str | None
    new: str | None
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"runId": self.run_id, "path": self.path, "field": self.field,
                "from": self.old, "to": self.new, "reason": self.reason}


@dataclass(frozen=True)
class RouteNote:
    """A packet `route` left alone, or something a person should know about it."""

    path: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "message": self.message}


@dataclass(frozen=True)
class RouteReport:
    """Everything one `route` run changed, and what it could not route."""

    changes: tuple[RouteChange, ...]
    notes: tuple[RouteNote, ...]
    dry_run: bool

    def as_dict(self) -> dict[str, object]:
        return {"dryRun": self.dry_run, "changes": [c.as_dict() for c in self.changes],
                "notes": [n.as_dict() for n in self.notes]}


@dataclass
class Plan:
    """The edit for one packet: keys to set and remove, where it moves, and why."""

    updates: dict[str, Any] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)
    changes: list[RouteChange] = field(default_factory=list)
    move_to: Path | None = None
    notes: list[str] = field(default_factory=list)

    def change(self, packet: Packet, shown: str, key: str, old: Any, new: Any, why: str) -> None:
        self.changes.append(RouteChange(_run_id(packet), shown, key, _text(old), _text(new), why))


def route_packets(workspace: Workspace, paths: Sequence[Path] = (), *, escalate: bool = False,
                  dry_run: bool = False, actor: str = "handoff route",
                  now: datetime | None = None) -> RouteReport:
    """Route the given packets (default: every packet in packets/) by the runbook."""
    now = now or now_utc()
    changes: list[RouteChange] = []
    notes: list[RouteNote] = []
    if not dry_run:  # a broken .handoff/ stops the run before any write (exit 2), once
        from .store import state_folder

        state_folder(workspace.state_dir, "locks")
        state_folder(workspace.state_dir, "tmp")
    for path in expand_paths(workspace, paths):
        done, left = route_one(workspace, path, escalate=escalate, dry_run=dry_run,
                               actor=actor, now=now)
        if escalate and not dry_run:
            from .hooks import notify_overdue

            left = [*left, *notify_overdue(workspace, path, done, now)]
        changes.extend(done)
        notes.extend(RouteNote(workspace.relative(path), message) for message in left)
    return RouteReport(tuple(changes), tuple(notes), dry_run)


def expand_paths(workspace: Workspace, paths: Sequence[Path]) -> list[Path]:
    """PATH arguments as packet files: a folder means the packet files under it."""
    if not paths:
        return packet_files(workspace.packets_dir)
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(packet_files(path))
        elif path.is_file() and path.suffix in PACKET_SUFFIXES:
            found.append(path)
        else:
            raise NotFoundError("no such packet file or folder", path)
    return sorted(dict.fromkeys(found))


def route_one(workspace: Workspace, path: Path, *, escalate: bool, dry_run: bool, actor: str,
              now: datetime) -> tuple[list[RouteChange], list[str]]:
    """Plan one packet and, unless dry_run, apply the plan under the packet's lock."""
    from .editing import EditError

    try:
        packet = load_packet(path, workspace.settings.max_file_bytes,
                             workspace.real_root_text)
    except LoadFailure as failure:
        return [], [f"not routed: {failure.code} {failure.message}"]
    plan = plan_packet(workspace, packet, escalate=escalate, actor=actor, now=now)
    if dry_run or not plan.changes:
        return plan.changes, plan.notes
    from .errors import HandoffError, WorkspaceError
    from .store import lock_key, packet_lock

    try:
        with packet_lock(workspace.state_dir, lock_key(packet.run_id, packet.path)):
            try:
                fresh = load_packet(path, workspace.settings.max_file_bytes,
                                    workspace.real_root_text)
            except LoadFailure as failure:
                return [], [f"not routed: it changed while routing ({failure})"]
            # Plan again from what is on disk now: another writer may have decided it meanwhile.
            plan = plan_packet(workspace, fresh, escalate=escalate, actor=actor, now=now)
            apply_plan(workspace, fresh, plan)
    except EditError as exc:
        return [], [f"not routed: cannot edit it safely: {exc}"]
    except WorkspaceError as exc:  # this packet's lock path is not a lock file: name it
        return [], [f"not routed: {exc}"]
    except HandoffError as exc:  # locked by another writer, changed meanwhile, target taken
        return [], [f"not routed: {exc.message}"]
    except OSError as exc:
        return [], [f"not routed: {exc.strerror or exc}"]
    return plan.changes, plan.notes


def apply_plan(workspace: Workspace, packet: Packet, plan: Plan) -> None:
    """Write the plan: edit in place atomically, or create the new file and then remove the old."""
    from .editing import set_keys
    from .errors import ConflictError
    from .store import CHANGED, check_bound, create_new, lock_key, replace_file, same_bytes

    if not plan.changes:
        return
    text = set_keys(packet.text, packet.kind, plan.updates, plan.remove)  # type: ignore[arg-type]
    check_bound(text, workspace.settings.max_file_bytes, workspace.relative(packet.path))
    if plan.move_to is None:
        replace_file(workspace.state_dir, packet.path, lock_key(packet.run_id, packet.path), text,
                     expected=packet.text,
                     shown=workspace.relative(packet.path))
        return
    create_new(plan.move_to, text, workspace.state_dir,  # a ConflictError rather than overwrite
               workspace.relative(plan.move_to))
    if not same_bytes(packet.path, packet.text.encode("utf-8")):
        plan.move_to.unlink()  # another writer replaced it meanwhile: keep theirs, move nothing
        raise ConflictError(CHANGED, workspace.relative(packet.path))
    packet.path.unlink()


def plan_packet(workspace: Workspace, packet: Packet, *, escalate: bool, actor: str,
                now: datetime) -> Plan:
    """What routing changes in one packet (nothing for decided or closed packets)."""
    plan = Plan()
    data, runbook = packet.data, workspace.runbook
    shown = workspace.relative(packet.path)
    if packet.status not in ROUTABLE:
        return plan
    if _inside(packet.path, workspace.exceptions_dir):
        plan.notes.append("not routed: it is in the exception queue")
        return plan
    history = data.get("history", [])
    if not isinstance(history, list):
        plan.notes.append("not routed: 'history' is not a list")
        return plan
    trigger = runbook.exception_trigger_for(data.get("triggerReason"))
    if trigger is not None:
        return plan_exception_move(workspace, packet, trigger.name, history, actor, now)
    type_name = data.get("handoffType")
    routing = runbook.routing_for(type_name, data) if isinstance(type_name, str) else None
    if routing is None:
        plan.notes.append(f"not routed: unknown handoff type '{type_name}' (runbook has: "
                          f"{', '.join(sorted(runbook.types))})" if type_name is not None
                          else "not routed: it has no handoffType")
        return plan
    events: list[dict[str, Any]] = []
    owner = data.get("ownerRole")
    if owner != routing.owner:
        why = routing.reason if owner is not None else f"was missing; {routing.reason}"
        plan.updates["ownerRole"] = routing.owner
        plan.change(packet, shown, "ownerRole", owner, routing.owner, why)
        events.append({"event": "routed", "at": iso(now), "by": actor, "from": owner,
                       "to": routing.owner, "reason": routing.reason})
    stale = data.get(ESCALATED_KEY)
    if ESCALATED_KEY in data and stale != routing.owner:
        plan.remove.append(ESCALATED_KEY)
        plan.change(packet, shown, ESCALATED_KEY, stale, None,
                    f"'{stale}' is not above '{routing.base_owner}' in the escalation chain")
    ttd = runbook.types[str(type_name)].time_to_decide
    due = plan_due(plan, packet, shown, ttd, now)
    if escalate and packet.status == "open" and due < now:
        events.extend(plan_escalation(plan, packet, shown, runbook, routing.owner, due, ttd,
                                      actor, now))
    if events:
        plan.updates["history"] = [*history, *events]
    return plan


def plan_due(plan: Plan, packet: Packet, shown: str, ttd: timedelta, now: datetime) -> datetime:
    """Fill a missing or unreadable createdAt (now) and dueBy (createdAt + time to decide)."""
    data = packet.data
    created = parse_iso(data.get("createdAt"))
    if created is None:
        created = now
        why = "was missing" if data.get("createdAt") is None else "was not a timestamp"
        plan.updates["createdAt"] = iso(now)
        plan.change(packet, shown, "createdAt", data.get("createdAt"), iso(now),
                    f"{why}; set to now")
    due = parse_iso(data.get("dueBy"))
    if due is None:
        due = later(created, ttd)
        plan.updates["dueBy"] = iso(due)
        plan.change(packet, shown, "dueBy", data.get("dueBy"), iso(due),
                    f"createdAt + time to decide ({duration_text(ttd, parts=3)})")
    return due


def plan_escalation(plan: Plan, packet: Packet, shown: str, runbook: Runbook, owner: str,
                    due: datetime, ttd: timedelta, actor: str,
                    now: datetime) -> list[dict[str, Any]]:
    """Hand an overdue open packet to the owner's escalatesTo role, with a new due time."""
    role = runbook.roles.get(owner)
    target = role.escalates_to if role else None
    if target is None:
        plan.notes.append(f"overdue since {iso(due)}, but role '{owner}' has no escalatesTo")
        return []
    new_due = iso(now + ttd)
    why = f"overdue since {iso(due)}; '{owner}' escalates to '{target}'"
    old_owner = packet.data.get("ownerRole")
    plan.updates.update({"ownerRole": target, ESCALATED_KEY: target, "dueBy": new_due})
    if ESCALATED_KEY in plan.remove:
        plan.remove.remove(ESCALATED_KEY)
    kept = [c for c in plan.changes if c.field not in ("ownerRole", ESCALATED_KEY, "dueBy")]
    plan.changes[:] = kept
    plan.change(packet, shown, "ownerRole", old_owner, target, why)
    plan.change(packet, shown, ESCALATED_KEY, packet.data.get(ESCALATED_KEY), target, why)
    plan.change(packet, shown, "dueBy", packet.data.get("dueBy"), new_due,
                f"escalated at {iso(now)} + time to decide ({duration_text(ttd, parts=3)})")
    return [{"event": "escalated", "at": iso(now), "by": actor, "from": owner, "to": target,
             "overdueSince": iso(due)}]


def plan_exception_move(workspace: Workspace, packet: Packet, trigger: str,
                        history: list[Any], actor: str, now: datetime) -> Plan:
    """Move an unplanned failure into exceptions/, keeping its path under packets/."""
    shown = workspace.relative(packet.path)
    try:
        tail = packet.path.resolve().relative_to(workspace.packets_dir.resolve())
    except ValueError:
        tail = Path(packet.path.name)
    target = workspace.exceptions_dir / tail
    plan = Plan(move_to=target)
    plan.updates["history"] = [*history, {"event": "exception", "at": iso(now), "by": actor,
                                          "trigger": trigger, "from": shown}]
    plan.change(packet, shown, "location", shown, workspace.relative(target),
                f"trigger is an unplanned failure ({trigger}); it belongs in the exception queue")
    if target.exists():
        plan.changes.clear()
        plan.notes.append(f"not moved: {workspace.relative(target)} already exists")
    return plan


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _run_id(packet: Packet) -> str:
    return packet.run_id or packet.path.stem


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
