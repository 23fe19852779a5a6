"""The queues: packets awaiting a decision and the exception queue, as plain rows.

`list_queue` loads each packet once (or takes its row from the result cache), filters and sorts
by due time; it never writes a packet.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import cacheable_stat, content_hash
from .errors import UsageError
from .packet import STATUSES, LoadFailure, is_overdue, load_packet, status_of
from .timeutil import now_utc, parse_iso
from .workspace import Workspace, packet_file_names

if TYPE_CHECKING:
    from .cache import ResultCache

# Below this many files, list reads no cache: loading them is quicker than loading it.
CACHE_MIN_FILES = 32


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
    lint_errors: int | None = None  # counted for open packets: "not ready" when above 0
    # With decisions.signatures on, for a decided, returned or closed packet: whether its
    # decision verifies, why (the verdict's reason), and whether that fails `handoff verify`.
    verified: bool | None = None
    verification: str | None = None
    forged: bool = False

    def as_dict(self) -> dict[str, object]:
        """The JSON row of `handoff list --format json` (documented in the README)."""
        return {
            "runId": self.run_id, "handoffType": self.handoff_type, "ownerRole": self.owner_role,
            "status": self.status, "createdAt": self.created_at, "dueBy": self.due_by,
            "overdue": self.overdue, "escalatedTo": self.escalated_to,
            "triggerReason": self.trigger, "path": self.path, "problem": self.problem,
            "lintErrors": self.lint_errors, "verified": self.verified,
            "verification": self.verification,
        }


AWAITING = frozenset({"open", "returned"})


ROW_KEYS = ("runId", "handoffType", "ownerRole", "status", "createdAt", "dueBy",
            "triggerReason", "escalatedTo")


def row_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The values of a packet a queue row shows (kept in the result cache by lint and list)."""
    return {key: data[key] for key in ROW_KEYS if isinstance(data.get(key), str)}


def entry_for(workspace: Workspace, path: Path, now: datetime,
              cache: ResultCache | None = None) -> QueueEntry:
    """Load one packet file into a queue row (an unloadable file becomes a row with a problem)."""
    return _entry_at(workspace, str(path), os.path.abspath(path), workspace.relative(path), now,
                     cache)


def _entry_at(workspace: Workspace, name: str, absolute: str, shown: str, now: datetime,
              cache: ResultCache | None,
              stats: dict[str, os.stat_result] | None = None) -> QueueEntry:
    max_bytes = workspace.settings.max_file_bytes
    cached = st = None
    if cache is not None:
        st = cacheable_stat(absolute)
        if st is not None:
            cached = cache.part(absolute, st, "row")
            if stats is not None:
                stats[absolute] = st  # lint's readiness check uses it too
    row = cached if isinstance(cached, dict) and cached.get("max") == max_bytes else None
    if row is None:
        sha = None
        try:
            packet = load_packet(Path(name), max_bytes, workspace.real_root_text)
        except LoadFailure as failure:
            row = {"problem": f"{failure.code} {failure.message}", "max": max_bytes}
        else:
            row = {"fields": row_fields(packet.data), "max": max_bytes}
            sha = content_hash(packet.text.encode("utf-8"))
        if cache is not None and st is not None:
            cache.put(absolute, st, sha, "row", row)
    try:
        return entry_from_row(row, name, shown, now)
    except (TypeError, ValueError, AttributeError):  # a cached row of another shape
        if cache is None:
            raise
        return _entry_at(workspace, name, absolute, shown, now, None)


def entry_from_row(row: dict[str, Any], path: Path | str, shown: str,
                   now: datetime) -> QueueEntry:
    """A queue row from the fields row_fields kept (or the problem loading found)."""
    problem = row.get("problem")
    if problem is not None:
        return QueueEntry(Path(path).stem, "?", "?", "invalid", None, None, False, "", shown,
                          str(problem))
    fields = row["fields"]
    if not isinstance(fields, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in fields.items()):
        raise TypeError("cached row fields are not text")
    get = fields.get  # every value is text (checked above)
    return QueueEntry(
        run_id=get("runId") or Path(path).stem, handoff_type=get("handoffType", "?"),
        owner_role=get("ownerRole", "?"), status=status_of(fields),
        created_at=get("createdAt") or None, due_by=get("dueBy") or None,
        overdue=is_overdue(fields, now), trigger=get("triggerReason", ""), path=shown,
        escalated_to=get("escalatedTo") or None,
    )


def list_queue(workspace: Workspace, *, owners: Sequence[str] | None = None,
               status: str | None = None, handoff_type: str | None = None,
               overdue: bool = False, exceptions: bool = False,
               now: datetime | None = None, use_cache: bool = True) -> list[QueueEntry]:
    """The review queue (or the exception queue), filtered, sorted by due time then runId.

    `owners=None` means any owner; an empty sequence matches nothing (a person in no role).
    """
    from .lint.engine import gc_paused

    with gc_paused():
        return _list_queue(workspace, owners, status, handoff_type, overdue, exceptions, now,
                           use_cache)


def _list_queue(workspace: Workspace, owners: Sequence[str] | None, status: str | None,
                handoff_type: str | None, overdue: bool, exceptions: bool,
                now: datetime | None, use_cache: bool) -> list[QueueEntry]:
    check_filters(workspace, owners, status, handoff_type)
    now = now or now_utc()
    folder = workspace.exceptions_dir if exceptions else workspace.packets_dir
    names = packet_file_names(folder)
    cache = None
    if use_cache and len(names) >= CACHE_MIN_FILES:
        from .cache import ResultCache

        cache = ResultCache(workspace.state_dir)
    root_text = str(workspace.root)
    prefix = root_text + os.sep
    normal = os.path.abspath(root_text) == root_text  # the listing's names are absolute
    stats: dict[str, os.stat_result] = {}
    entries = [_entry_at(workspace, name, name if normal else os.path.abspath(name),
                         name[len(prefix):].replace(os.sep, "/") if name.startswith(prefix)
                         else workspace.relative(Path(name)), now, cache, stats)
               for name in names]
    if owners is not None:
        entries = [e for e in entries if e.owner_role in owners]
    if status is not None:
        entries = [e for e in entries if e.status == status]
    if handoff_type is not None:
        entries = [e for e in entries if e.handoff_type == handoff_type]
    if overdue:
        entries = [e for e in entries if e.overdue]
    entries = with_lint_errors(workspace, entries, use_cache, cache, stats)
    entries = with_verdicts(workspace, entries, cache)
    if cache is not None:
        cache.save()
    entries.sort(key=lambda e: (parse_iso(e.due_by) or NEVER, e.run_id))
    return entries


def with_lint_errors(workspace: Workspace, entries: list[QueueEntry],
                     use_cache: bool = True, cache: ResultCache | None = None,
                     stats: dict[str, os.stat_result] | None = None) -> list[QueueEntry]:
    """Count the lint errors of the open packets (one lint run for all of them), so that the
    queue can mark those that are not ready to decide. `stats`: the files' cacheable_stat
    taken while listing, by absolute path."""
    from .lint.engine import error_counts_of

    root = str(workspace.root)  # a row's path is clean: joined as text, it is root / path
    wanted = {os.path.join(root, e.path): e
              for e in entries if e.status == "open" and e.problem is None}
    known = [stats.get(path) for path in wanted] if stats and os.path.isabs(root) else None
    counts = error_counts_of(workspace, list(wanted), use_cache=use_cache, shared=cache,
                             stats=known)
    found = {id(entry): counts.get(path, 0) for path, entry in wanted.items()}
    return [QueueEntry(**{**vars(e), "lint_errors": found[id(e)]}) if id(e) in found else e
            for e in entries]


def with_verdicts(workspace: Workspace, entries: list[QueueEntry],
                  cache: ResultCache | None = None) -> list[QueueEntry]:
    """With decisions.signatures on, each recorded decision's verdict (as status, wait, lint
    and verify judge it), so that the queue never shows a forged decision as a real one."""
    if workspace.settings.signatures == "off":
        return entries
    import dataclasses

    from .signing import RECORDED, cached_verdict, failed, verdict_key

    key = verdict_key(workspace)
    judged = []
    for entry in entries:
        verdict = None
        if entry.problem is None and entry.status in RECORDED:
            verdict = cached_verdict(workspace, workspace.root / entry.path, cache, key)
        if verdict is not None:
            entry = dataclasses.replace(entry, verified=verdict.verified,
                                        verification=verdict.reason,
                                        forged=failed(workspace, verdict))
        judged.append(entry)
    return judged


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
