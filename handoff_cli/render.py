"""Every rich view; the only module that builds rich renderables.

Agent-written text is always passed through `esc` (no markup, no terminal escapes).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .textsafe import safe_text
from .timeutil import now_utc, parse_iso

if TYPE_CHECKING:
    from rich.console import Console

    from .queue import QueueEntry


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
        table.add_row(esc(entry.run_id), esc(entry.handoff_type), esc(entry.owner_role), status,
                      age, due_text, esc(entry.problem or entry.trigger))
    return table
