"""The queues: packets awaiting a decision and the exception queue, as plain rows.

`list_queue` loads each packet once and filters; it never writes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from .packet import LoadFailure, load_packet
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

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        return {
            "runId": data["run_id"], "handoffType": data["handoff_type"],
            "ownerRole": data["owner_role"], "status": data["status"],
            "createdAt": data["created_at"], "dueBy": data["due_by"],
            "overdue": data["overdue"], "triggerReason": data["trigger"], "path": data["path"],
            "problem": data["problem"],
        }


AWAITING = frozenset({"open", "returned"})


def entry_for(workspace: Workspace, path: Path, now: datetime) -> QueueEntry:
    """Load one packet file into a queue row (an unloadable file becomes a row with a problem)."""
    shown = workspace.relative(path)
    try:
        packet = load_packet(path, workspace.settings.max_file_bytes)
    except LoadFailure as failure:
        return QueueEntry(path.stem, "?", "?", "invalid", None, None, False, "", shown,
                          f"{failure.code} {failure.message}")
    data = packet.data

    def text(key: str, default: str = "") -> str:
        value = data.get(key)
        return value if isinstance(value, str) else default

    status = packet.status
    due = parse_iso(data.get("dueBy"))
    overdue = bool(due is not None and due < now and status == "open")
    return QueueEntry(
        run_id=packet.run_id or path.stem, handoff_type=text("handoffType", "?"),
        owner_role=text("ownerRole", "?"), status=status, created_at=text("createdAt") or None,
        due_by=text("dueBy") or None, overdue=overdue, trigger=text("triggerReason"), path=shown,
    )


def list_queue(workspace: Workspace, *, owners: tuple[str, ...] = (), status: str | None = None,
               handoff_type: str | None = None, overdue: bool = False, exceptions: bool = False,
               now: datetime | None = None) -> list[QueueEntry]:
    """The review queue (or the exception queue), filtered, sorted by due time then runId."""
    now = now or now_utc()
    folder = workspace.exceptions_dir if exceptions else workspace.packets_dir
    entries = [entry_for(workspace, path, now) for path in packet_files(folder)]
    if owners:
        entries = [e for e in entries if e.owner_role in owners]
    if status is not None:
        entries = [e for e in entries if e.status == status]
    if handoff_type is not None:
        entries = [e for e in entries if e.handoff_type == handoff_type]
    if overdue:
        entries = [e for e in entries if e.overdue]
    far = "9999"
    entries.sort(key=lambda e: (e.due_by or far, e.run_id))
    return entries
