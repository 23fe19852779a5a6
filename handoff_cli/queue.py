"""The queues: packets awaiting a decision and the exception queue, as plain rows.

`list_queue` loads each packet once, filters and sorts by due time; it never writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .errors import UsageError
from .packet import STATUSES, LoadFailure, is_overdue, load_packet
from .timeutil import now_utc, parse_iso
from .workspace import Workspace, packet_files


@dataclass(frozen=True)
class QueueEntry:
    """One packet as the queue shows it."""

    run_id: str
    handoff_type: str
    owner_role: str
    status: str
    created_at: str | None
    due_by: str | None
    overdue: bool
    trigger: str
    path: str
    problem: str | None = None  # why the file could not be loaded, if it could not
    escalated_to: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The JSON row of `handoff list --format json` (documented in the README)."""
        return {
            "runId": self.run_id, "handoffType": self.handoff_type, "ownerRole": self.owner_role,
            "status": self.status, "createdAt": self.created_at, "dueBy": self.due_by,
            "overdue": self.overdue, "escalatedTo": self.escalated_to,
            "triggerReason": self.trigger, "path": self.path, "problem": self.problem,
        }


AWAITING = frozenset({"open", "returned"})


def entry_for(workspace: Workspace, path: Path, now: datetime) -> QueueEntry:
    """Load one packet file into a queue row (an unloadable file becomes a row with a problem)."""
    shown = workspace.relative(path)
    try:
        packet = load_packet(path, workspace.settings.max_file_bytes,
                             workspace.real_root_text)
    except LoadFailure as failure:
        return QueueEntry(path.stem, "?", "?", "invalid", None, None, False, "", shown,
                          f"{failure.code} {failure.message}")
    data = packet.data

    def text(key: str, default: str = "") -> str:
        value = data.get(key)
        return value if isinstance(value, str) else default

    return QueueEntry(
        run_id=packet.run_id or path.stem, handoff_type=text("handoffType", "?"),
        owner_role=text("ownerRole", "?"), status=packet.status,
        created_at=text("createdAt") or None, due_by=text("dueBy") or None,
        overdue=is_overdue(data, now), trigger=text("triggerReason"), path=shown,
        escalated_to=text("escalatedTo") or None,
    )


def list_queue(workspace: Workspace, *, owners: Sequence[str] | None = None,
               status: str | None = None, handoff_type: str | None = None,
               overdue: bool = False, exceptions: bool = False,
               now: datetime | None = None) -> list[QueueEntry]:
    """The review queue (or the exception queue), filtered, sorted by due time then runId.

    `owners=None` means any owner; an empty sequence matches nothing (a person in no role).
    """
    check_filters(workspace, owners, status, handoff_type)
    now = now or now_utc()
    folder = workspace.exceptions_dir if exceptions else workspace.packets_dir
    entries = [entry_for(workspace, path, now) for path in packet_files(folder)]
    if owners is not None:
        entries = [e for e in entries if e.owner_role in owners]
    if status is not None:
        entries = [e for e in entries if e.status == status]
    if handoff_type is not None:
        entries = [e for e in entries if e.handoff_type == handoff_type]
    if overdue:
        entries = [e for e in entries if e.overdue]
    entries.sort(key=lambda e: (parse_iso(e.due_by) or NEVER, e.run_id))
    return entries


NEVER = datetime.max.replace(tzinfo=timezone.utc)


def check_filters(workspace: Workspace, owners: Sequence[str] | None, status: str | None,
                  handoff_type: str | None) -> None:
    """Refuse filter values the runbook does not know, naming the ones it does."""
    runbook = workspace.runbook
    for owner in owners or ():
        if owner not in runbook.roles:
            raise UsageError(f"unknown role '{owner}' for --owner; the runbook has: "
                             f"{', '.join(runbook.roles)}")
    if handoff_type is not None and handoff_type not in runbook.types:
        raise UsageError(f"unknown handoff type '{handoff_type}' for --type; the runbook has: "
                         f"{', '.join(runbook.types)}")
    if status is not None and status not in STATUSES:
        raise UsageError(f"unknown status '{status}' for --status; one of: {', '.join(STATUSES)}")
