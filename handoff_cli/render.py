"""Every rich view; the only module that builds rich renderables.

Agent-written text is always passed through `esc` (no markup, no terminal escapes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .textsafe import safe_text
from .timeutil import now_utc, parse_iso

if TYPE_CHECKING:
    from rich.console import Console

    from .queue import QueueEntry
    from .routing import RouteReport
    from .stats import Stats


def esc(value: object, multiline: bool = False) -> Any:
    """Agent text as a rich Text: never interpreted as markup, control characters made visible."""
    from rich.text import Text

    return Text(safe_text("" if value is None else str(value), multiline=multiline))


def make_console(stderr: bool = False) -> Console:
    """A console that honours NO_COLOR and plain output when not on a terminal."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def relative_time(moment: datetime | None, now: datetime | None = None) -> str:
    """'in 3h', '2d ago' style text for a time."""
    if moment is None:
        return "-"
    seconds = int((moment - (now or now_utc())).total_seconds())
    future = seconds >= 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            amount = f"{seconds // size}{unit}"
            break
    else:
        amount = "now" if seconds < 60 else f"{seconds}s"
        if amount == "now":
            return "now"
    return f"in {amount}" if future else f"{amount} ago"


STATUS_STYLE = {"open": "yellow", "decided": "green", "returned": "magenta",
                "withdrawn": "dim", "closed": "dim", "invalid": "red"}


def queue_table(entries: Sequence[QueueEntry], title: str, now: datetime | None = None) -> Any:
    """The queue as a table: runId, type, owner, status, age, due, trigger."""
    from rich.table import Table

    now = now or now_utc()
    table = Table(title=title, title_justify="left", expand=False, pad_edge=False)
    table.add_column("runId", overflow="fold", ratio=3)
    table.add_column("type", overflow="fold")
    table.add_column("owner", overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("age", no_wrap=True, justify="right")
    table.add_column("due", no_wrap=True)
    table.add_column("trigger", overflow="ellipsis", ratio=4, max_width=60)
    for entry in entries:
        created = parse_iso(entry.created_at)
        due = relative_time(parse_iso(entry.due_by), now) if entry.due_by else "-"
        status = esc(entry.status)
        status.stylize(STATUS_STYLE.get(entry.status, ""))
        due_text = esc(("OVERDUE " if entry.overdue else "") + due)
        if entry.overdue:
            due_text.stylize("bold red")
        age = relative_time(created, now).removesuffix(" ago") if created else "-"
        owner = entry.owner_role + (" (escalated)" if entry.escalated_to else "")
        table.add_row(esc(entry.run_id), esc(entry.handoff_type), esc(owner), status,
                      age, due_text, esc(entry.problem or entry.trigger))
    return table


def route_table(report: RouteReport) -> Any:
    """What `route` changed (or would change): runId, field, from, to, why."""
    from rich.table import Table

    verb = "Would change" if report.dry_run else "Changed"
    table = Table(title=f"{verb} {len(report.changes)}", title_justify="left", pad_edge=False)
    table.add_column("runId", overflow="fold")
    table.add_column("field", no_wrap=True)
    table.add_column("from", overflow="fold")
    table.add_column("to", overflow="fold")
    table.add_column("why", overflow="fold", max_width=60)
    for change in report.changes:
        table.add_row(esc(change.run_id), change.field, esc(change.old or "-"),
                      esc(change.new or "-"), esc(change.reason))
    return table


def duration_text(value: timedelta) -> str:
    """'2d 3h', '4h 10m', '12m', '40s'."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts[:2]) or f"{seconds}s"


def stats_view(stats: Stats) -> Any:
    """Counts, overdue, time to decision per owner and returns by missing field."""
    from rich.console import Group
    from rich.table import Table

    def counts(title: str, values: Mapping[str, int]) -> Any:
        table = Table(title=title, title_justify="left", pad_edge=False)
        table.add_column(title.split()[-1], overflow="fold")
        table.add_column("packets", justify="right")
        for name, count in values.items():
            table.add_row(esc(name), str(count))
        return table

    summary = (f"{stats.total} packets, {stats.overdue} overdue, {stats.exceptions} in the "
               f"exception queue" + (f", {stats.invalid} unreadable" if stats.invalid else ""))
    parts: list[Any] = [esc(summary)]
    if stats.total:
        parts += [counts("By status", stats.by_status), counts("By type", stats.by_type),
                  counts("By owner", stats.by_owner)]
    if stats.decision_times:
        times = Table(title="Time to decision", title_justify="left", pad_edge=False)
        for name in ("owner", "decided", "median", "p90"):
            times.add_column(name, justify="left" if name == "owner" else "right")
        for row in stats.decision_times:
            times.add_row(esc(row.owner), str(row.count), duration_text(row.median),
                          duration_text(row.p90))
        parts.append(times)
    if stats.returns_by_field:
        parts.append(counts("Returns by missing field", stats.returns_by_field))
    return Group(*parts)
