"""A reviewer's inbox: the open packets one person may decide, most urgent first.

Who may decide is asked of `decisions.check_member`, the one authority rule; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .errors import HandoffError, UsageError
from .packet import LoadFailure, is_overdue, load_packet
from .queue import NEVER, check_filters
from .timeutil import now_utc, parse_iso
from .workspace import Workspace, packet_files


@dataclass(frozen=True)
class InboxItem:
    """One packet waiting for this reviewer."""

    path: Path
    run_id: str
    handoff_type: str
    owner_role: str
    due_by: str | None
    overdue: bool

    def as_dict(self) -> dict[str, object]:
        return {"runId": self.run_id, "handoffType": self.handoff_type,
                "ownerRole": self.owner_role, "dueBy": self.due_by, "overdue": self.overdue,
                "path": str(self.path)}


def inbox(workspace: Workspace, identity: str | None, *, owners: Sequence[str] | None = None,
          handoff_type: str | None = None, now: datetime | None = None) -> list[InboxItem]:
    """The open packets `identity` may decide: overdue first, then due soonest, then by runId
    (packets without a due time last). `owners`/`handoff_type` narrow it like `list`."""
    from .decisions import check_member

    if not identity:
        raise UsageError("whose inbox? pass --as EMAIL, set HANDOFF_USER or "
                         "git config user.email")
    check_filters(workspace, owners, None, handoff_type)
    now = now or now_utc()
    items: list[InboxItem] = []
    for path in packet_files(workspace.packets_dir):
        try:
            packet = load_packet(path, workspace.settings.max_file_bytes)
        except LoadFailure:
            continue  # `handoff lint` and `list` report it; nobody can decide it
        data = packet.data
        if packet.status != "open":
            continue
        owner = data.get("ownerRole")
        kind = data.get("handoffType")
        if owners is not None and owner not in owners:
            continue
        if handoff_type is not None and kind != handoff_type:
            continue
        try:
            check_member(workspace, packet, identity)
        except HandoffError:
            continue
        due = data.get("dueBy")
        items.append(InboxItem(path, packet.run_id or path.stem, str(kind), str(owner),
                               due if isinstance(due, str) else None, is_overdue(data, now)))
    items.sort(key=lambda i: (not i.overdue, parse_iso(i.due_by) or NEVER, i.run_id))
    return items
