"""Every rich view; the only module that builds rich renderables.

Agent-written text is always passed through `esc` (no markup, no terminal escapes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .textsafe import safe_text
from .timeutil import duration_text, local_text, now_utc, parse_iso, rounded_duration

if TYPE_CHECKING:
    from rich.console import Console

    from .queue import QueueEntry
    from .review import ReviewView
    from .routing import RouteReport
    from .stats import Stats


def esc(value: object, multiline: bool = False) -> Any:
    """Agent text as a rich Text: never interpreted as markup, control characters made visible."""
    from rich.text import Text

    return Text(safe_text("" if value is None else str(value), multiline=multiline))


COLOR_MODES = ("auto", "always", "never")


def color_mode(flag: str | None = None) -> str:
    """'always', 'never' or 'auto': the --color flag, else NO_COLOR, else FORCE_COLOR.

    Like ruff and pytest, an explicit flag beats the environment; NO_COLOR
    (https://no-color.org) beats FORCE_COLOR (https://force-color.org) when both are set.
    """
    import os

    if flag is None:
        flag = _color_flag_of_this_command()
    if flag in ("always", "never"):
        return flag
    if os.environ.get("NO_COLOR"):
        return "never"
    if os.environ.get("FORCE_COLOR"):
        return "always"
    return "auto"


# The --color flag of the command being run: the CLI's root callback sets it on every run (so
# one run never sees another's), and every console made here honours it without passing it on.
_COLOR_FLAG: ContextVar[str | None] = ContextVar("handoff_color_flag", default=None)


def set_color_flag(flag: str | None) -> None:
    """Record the command line's --color (None: not given) for every console of this run."""
    _COLOR_FLAG.set(flag)


def _color_flag_of_this_command() -> str | None:
    return _COLOR_FLAG.get()


def make_console(stderr: bool = False, color: str | None = None) -> Console:
    """A console that honours --color, NO_COLOR and FORCE_COLOR, and is plain text when not
    on a terminal."""
    from rich.console import Console

    mode = color_mode(color)
    if mode == "never":
        # plain text: no bold or underline either
        return Console(stderr=stderr, highlight=False, soft_wrap=False, color_system=None,
                       no_color=True)
    if mode == "always":
        console = Console(stderr=stderr, highlight=False, soft_wrap=False, force_terminal=True,
                          color_system="auto")
        if console.color_system is None:  # TERM=dumb or unset: still colour, as asked
            console = Console(stderr=stderr, highlight=False, soft_wrap=False,
                              force_terminal=True, color_system="standard")
        return console
    return Console(stderr=stderr, highlight=False, soft_wrap=False, color_system="auto")


def relative_time(moment: datetime | None, now: datetime | None = None) -> str:
    """'in 3h', '2d ago' or 'now' for a time, rounded to the nearest unit."""
    if moment is None:
        return "-"
    delta = moment - (now or now_utc())
    if abs(delta.total_seconds()) < 60:
        return "now"
    amount = rounded_duration(delta)
    return f"in {amount}" if delta.total_seconds() >= 0 else f"{amount} ago"


STATUS_STYLE = {"open": "yellow", "decided": "green", "returned": "magenta",
                "withdrawn": "dim", "closed": "dim", "invalid": "red"}


WIDE_QUEUE = 120


def queue_table(entries: Sequence[QueueEntry], title: str, now: datetime | None = None,
                width: int = WIDE_QUEUE) -> Any:
    """The queue: a table (runId, type, owner, status, age, due, trigger) on wide terminals,
    two lines per packet on narrow ones, so that runIds are never cut."""
    from rich import box
    from rich.table import Table

    now = now or now_utc()
    rows = [_queue_cells(entry, now) for entry in entries]
    if width < WIDE_QUEUE:
        grid = Table(title=title, title_justify="left", box=None, show_header=False,
                     pad_edge=False, expand=False)
        grid.add_column(overflow="fold")
        for cells in rows:
            first = esc(cells["runId"])
            first.stylize("bold")
            first.append("  ").append_text(cells["status"]).append("  ")
            first.append_text(cells["due"]).append("  ").append_text(esc(cells["owner"]))
            second = esc(f"  {cells['type']} · ")
            second.stylize("dim")
            second.append_text(cells["trigger"])
            second.truncate(max(width, 20), overflow="ellipsis")
            grid.add_row(first)
            grid.add_row(second)
        return grid
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  show_edge=False)
    used = 0
    for name in ("runId", "type", "owner", "status", "age", "due"):
        # Never squeeze these: the trigger column takes what is left and is cut with "…".
        widest = max([len(str(cells[name])) for cells in rows] + [len(name)])
        table.add_column(name, no_wrap=True, width=widest,
                         justify="right" if name == "age" else "left")
        used += widest + 3  # padding on both sides and a divider
    room = max(12, width - used - 1)  # every spare column goes to the trigger
    table.add_column("trigger", no_wrap=True, width=room)
    for cells in rows:
        trigger = cells["trigger"]
        trigger.truncate(room, overflow="ellipsis")
        table.add_row(esc(cells["runId"]), esc(cells["type"]), esc(cells["owner"]),
                      cells["status"], cells["age"], cells["due"], trigger)
    return table


def _queue_cells(entry: QueueEntry, now: datetime) -> dict[str, Any]:
    from rich.text import Text

    from .review import SETTLED

    created = parse_iso(entry.created_at)
    due = relative_time(parse_iso(entry.due_by), now) if entry.due_by else "no due time"
    status = esc(entry.status)
    status.stylize(STATUS_STYLE.get(entry.status, ""))
    if entry.forged:  # the decision does not verify: never shown as a real one
        status.append(f" {NOT_VERIFIED}", style="bold red")
    due_text = esc(("OVERDUE " if entry.overdue else "due ") + due if entry.due_by else due)
    if entry.status in SETTLED:  # a settled packet waits for nobody
        due_text = Text("-")
    if entry.overdue:
        due_text.stylize("bold red")
    trigger = esc(entry.problem or entry.trigger)
    if entry.lint_errors:
        trigger = Text.assemble((not_ready_text(entry.lint_errors), "bold red"), " · ", trigger)
    return {
        "runId": entry.run_id, "type": entry.handoff_type, "status": status, "due": due_text,
        "owner": entry.owner_role + (" (escalated)" if entry.escalated_to else ""),
        "age": relative_time(created, now).removesuffix(" ago") if created else "-",
        "trigger": trigger,
    }


# -- the review view (handoff show / decide) ---------------------------------------------------

NARROW = 80


def human_size(size: int | None) -> str:
    """'812 B', '1.2 kB', '3.4 MB'."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def _heading(title: str) -> Any:
    from rich.text import Text

    return Text.assemble("\n", (title, "bold underline"))


def _grid(rows: Sequence[tuple[Any, Any]]) -> Any:
    from rich.table import Table

    grid = Table.grid(padding=(0, 2), pad_edge=True)
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def _due_text(view: Any, now: datetime) -> Any:
    status = esc(view.status)
    status.stylize(STATUS_STYLE.get(view.status, ""))
    if view.forged:
        status.append(f" {NOT_VERIFIED}", style="bold red")
    due_at = parse_iso(view.due_by) if view.due_by else None
    if view.due_by and not view.settled:  # a settled packet waits for nobody
        when = (f"{relative_time(due_at, now)} ({local_text(due_at)})" if due_at
                else f"at '{view.due_by}' (not a time)")
        status.append(" · ")
        status.append_text(esc(f"{'OVERDUE ' if view.overdue else ''}due {when}"))
        if view.overdue:
            status.stylize("bold red", len(view.status))
    return status


NOT_VERIFIED = "(NOT VERIFIED)"


def verification_text(view: Any) -> Any:
    """The verdict of a recorded decision in the review view: verified, or why not."""
    from rich.text import Text

    if view.verified:
        return Text.assemble(("verified", "green"), " · ", esc(view.verification or ""))
    label = "NOT VERIFIED" if view.forged else "not verified"
    return Text.assemble((label, "bold red" if view.forged else "yellow"), ": ",
                         esc(view.verification or ""))


def not_ready_text(errors: int) -> str:
    """The mark of a packet with lint errors, the same in show, list and review."""
    return f"not ready: {errors} lint error{'s' if errors != 1 else ''}"


def _link(text: Any, target: str) -> Any:
    """Make `text` an OSC 8 hyperlink to `target` (rich writes it only to a colour terminal;
    plain output, pipes and NO_COLOR get the text alone). `target` is percent-encoded, so no
    control character reaches the escape sequence."""
    from urllib.parse import quote

    from rich.style import Style

    text.stylize(Style(link=quote(target, safe=":/?#[]@!$&'()*+,;=%-._~")))
    return text


def evidence_link(row: Any) -> str | None:
    """Where an evidence row links to: its file inside the workspace, or its http(s) URL."""
    if row.url:
        return str(row.path)
    if row.real_path is not None:
        return str(row.real_path.as_uri())
    return None


def _evidence(view: Any, width: int, now: datetime) -> Any:
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    if not view.evidence:
        return Text("  (no evidence listed)", style="red")

    def state(row: Any) -> Any:
        if row.url:
            return Text("link", style="cyan")
        if row.exists and not row.problem:
            return Text("yes", style="green")
        return Text.assemble(("MISSING" if row.problem in (None, "missing") else "NO", "bold red"),
                             *([] if row.problem in (None, "missing") else
                               [" ", esc(f"({row.problem})")]))

    def modified(row: Any) -> str:
        return relative_time(parse_iso(row.modified), now) if row.modified else "-"

    def path(row: Any) -> Any:
        text = esc(row.path)
        target = evidence_link(row)
        return _link(text, target) if target else text

    needed = max(len(r.name) for r in view.evidence) + max(len(r.path) for r in view.evidence)
    if width < NARROW or needed + 34 > width:
        # Two lines an entry; a wrapped line keeps its indent (a hanging indent).
        grid = Table.grid(pad_edge=False)
        grid.add_column(overflow="fold")
        for row in view.evidence:
            head = Text.assemble(esc(row.name), "  ", state(row))
            if row.exists:
                head.append(f" · {human_size(row.size)} · modified {modified(row)}")
            grid.add_row(Padding(head, (0, 0, 0, 2)))
            grid.add_row(Padding(path(row), (0, 0, 0, 4)))
        return grid
    table = Table(box=None, pad_edge=True, show_edge=False, header_style="bold dim")
    table.add_column("name", overflow="fold")
    table.add_column("path", overflow="fold", ratio=1)
    table.add_column("exists", no_wrap=False)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("modified", no_wrap=True)
    for row in view.evidence:
        table.add_row(esc(row.name), path(row), state(row), human_size(row.size),
                      modified(row))
    return table


def _options(view: Any) -> Any:
    from rich.table import Table
    from rich.text import Text

    if not view.options:
        return Text("  (no options listed)", style="red")
    table = Table.grid(padding=(0, 2), pad_edge=True)
    table.add_column(justify="right", style="bold cyan", no_wrap=True)
    table.add_column(overflow="fold", ratio=2)
    table.add_column(overflow="fold", ratio=3)
    chosen = (view.decision or {}).get("option")
    for row in view.options:
        label = esc(row.label)
        label.stylize("bold")
        if row.label == chosen:
            label.append("  ✓ chosen", style="green")
        risk = Text.assemble(("risk: ", "dim"), esc(row.risk or "(none given)"))
        table.add_row(f"{row.number}.", label, risk)
    return table


def _history(view: Any) -> Any:
    from rich.table import Table

    table = Table.grid(padding=(0, 2), pad_edge=True)
    table.add_column(style="dim", overflow="fold")
    table.add_column(style="bold", overflow="fold")
    table.add_column(overflow="fold", ratio=1)
    for event in view.history:
        details = [f"{k}: {v}" for k, v in event.items() if k not in ("event", "at", "by")]
        who = f"by {event.get('by')}" if event.get("by") else ""
        table.add_row(esc(event.get("at", "")), esc(event.get("event", "")),
                      esc("  ".join([who, *details]).strip()))
    return table


def _decision(view: Any) -> Any:
    decision = view.decision or {}
    rows = [("Option", esc(decision.get("option") or "(returned to the agent)")),
            ("By", esc(decision.get("by"))), ("At", esc(decision.get("at")))]
    if decision.get("missing"):
        rows.append(("Missing", esc(", ".join(map(str, decision["missing"])))))
    if decision.get("note"):
        rows.append(("Note", esc(decision.get("note"), multiline=True)))
    if view.verified is not None:
        rows.append(("Signature", verification_text(view)))
    if view.outcome:
        rows.append(("Outcome", esc(view.outcome, multiline=True)))
    return _grid(rows)


BODY_TITLE = "Notes written by the agent (not part of this view)"


def markdown_body(body: str) -> Any:
    """The agent's Markdown body, set apart in a frame so that it cannot pose as a section of
    the view (a fake "Decision"): escapes made visible, link and image targets shown as text,
    HTML shown literally (never hidden)."""
    from markdown_it import MarkdownIt
    from markdown_it.token import Token
    from rich.markdown import Markdown
    from rich.panel import Panel

    def shown_images(tokens: list[Token]) -> None:
        for token in tokens:
            if token.children:
                shown_images(token.children)
                token.children = [
                    Token("text", "", 0, content=f"🌆 {child.content} ({child.attrs.get('src')})")
                    if child.type == "image" else child for child in token.children]

    class AgentMarkdown(Markdown):
        def __init__(self, markup: str) -> None:
            super().__init__(markup, hyperlinks=False)
            # html off: tags and comments are text to read, not markup that hides text.
            parser = MarkdownIt("commonmark", {"html": False})
            self.parsed = parser.enable("strikethrough").enable("table").parse(markup)
            shown_images(self.parsed)

    return Panel(AgentMarkdown(safe_text(body.strip(), multiline=True)), title=BODY_TITLE,
                 title_align="left", padding=(0, 1))


def review_view(view: Any, width: int = 100, now: datetime | None = None) -> Any:
    """The review view: status and due, goal and trigger, evidence, options, owner, next action,
    body, history (every agent-written string escaped)."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    now = now or now_utc()
    kind = view.handoff_type + (f" ({view.category})" if view.category else "")
    header = [("Status", _due_text(view, now))]
    if view.lint_errors and not view.settled:
        header.append(("Ready", Text.assemble(
            (not_ready_text(view.lint_errors), "bold red"),
            f" (see 'handoff lint {safe_text(view.path)}')")))
    header += [("File", esc(view.path)),
               ("Owner", esc(view.owner_role or "(none)")),
               ("May decide", _may_decide(view))]
    if view.routed_because:
        header.append(("Why this role", esc(view.routed_because)))
    parts: list[Any] = [
        Text.assemble(esc(view.run_id), style="bold"),
        Text.assemble(esc(kind), style="dim"),
        Text(),
        _grid(header),
        _heading("Goal and trigger"),
        _grid([("Goal", esc(view.goal or "(missing)")),
               ("Trigger", esc(view.trigger or "(missing)"))]),
    ]
    if view.extra:
        parts += [_heading("More from the agent"),
                  _grid([(esc(key), esc(extra_value_text(value), multiline=True))
                         for key, value in view.extra])]
    parts += [
        _heading(f"Evidence ({len(view.evidence)})"),
        _evidence(view, width, now),
        _heading("Options"),
        _options(view),
        _heading("After the decision, the agent will"),
        Padding(esc(view.next_action or "(not stated)"), (0, 0, 0, 2)),
    ]
    if view.decision is not None:
        parts += [_heading("Decision"), _decision(view)]
    if view.body.strip():
        parts += [Text(), markdown_body(view.body)]
    if view.history:
        parts += [_heading("History"), _history(view)]
    return Group(*parts)


def extra_value_text(value: Any) -> str:
    """A key the agent added, as text: scalars as written, lists and mappings as JSON."""
    import json

    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def decision_recap(view: Any, now: datetime | None = None) -> Any:
    """What stays directly above the prompt: the packet, its due time, the options with risks
    (and the not-ready mark), so that a long view never pushes the question out of sight."""
    from rich.console import Group
    from rich.text import Text

    now = now or now_utc()
    title = Text.assemble(("Decide ", "bold"), esc(view.run_id), " · ", _due_text(view, now))
    parts: list[Any] = [title]
    if view.lint_errors:
        parts.append(Text.assemble(
            ("  " + not_ready_text(view.lint_errors), "bold red"),
            ": return it to the agent, or decide anyway with --force"))
    parts.append(_options(view))
    return Group(*parts)


def _md_cell(value: object) -> str:
    text = safe_text("" if value is None else str(value))
    return text.replace("\\", "\\\\").replace("|", "\\|")


def fenced(text: str) -> list[str]:
    """Text as a fenced code block (a fence longer than any backtick run in it): shown
    verbatim, so that its headings, HTML and links cannot pose as the view's own."""
    import re

    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + "text", text, fence]


def review_markdown(view: Any) -> str:
    """The review view as Markdown, for pasting into chat or a ticket."""
    lines = [f"## Handoff: {_md_cell(view.run_id)}", ""]
    due = f" · due {view.due_by}{' (OVERDUE)' if view.overdue else ''}" if view.due_by else ""
    due = safe_text(due)
    lines += [f"- **Status:** {_md_cell(view.status)}{due}",
              f"- **Type:** {_md_cell(view.handoff_type)}"
              + (f" ({_md_cell(view.category)})" if view.category else ""),
              f"- **Owner:** {_md_cell(view.owner_role)} (may decide: "
              f"{_md_cell(_may_decide_text(view))})",
              f"- **Goal:** {_md_cell(view.goal)}", f"- **Trigger:** {_md_cell(view.trigger)}",
              "", "### Evidence", "", "| name | path | exists | size | modified |",
              "|---|---|---|---|---|"]
    for row in view.evidence:
        exists = "yes" if row.exists and not row.problem else f"**NO** ({row.problem})"
        lines.append(f"| {_md_cell(row.name)} | `{_md_cell(row.path)}` | {exists} | "
                     f"{human_size(row.size)} | {row.modified or '-'} |")
    lines += ["", "### Options", ""]
    lines += [f"{o.number}. **{_md_cell(o.label)}**: risk: {_md_cell(o.risk)}"
              for o in view.options]
    lines += ["", "### After the decision", "", _md_cell(view.next_action) or "(not stated)"]
    if view.decision is not None:
        d = view.decision
        lines += ["", "### Decision", "",
                  f"**{_md_cell(d.get('option') or 'returned to the agent')}** by "
                  f"{_md_cell(d.get('by'))} at {_md_cell(d.get('at'))}"]
        if d.get("missing"):
            lines.append(f"Missing: {_md_cell(', '.join(map(str, d['missing'])))}")
        if d.get("note"):
            lines.append(f"Note: {_md_cell(d.get('note'))}")
        if view.verified is not None:
            verdict = "verified" if view.verified else (
                "**NOT VERIFIED**" if view.forged else "not verified")
            lines.append(f"Signature: {verdict}: {_md_cell(view.verification)}")
    if view.body.strip():
        body = safe_text(view.body.strip(), multiline=True)
        lines += ["", f"### {BODY_TITLE}", "", *fenced(body)]
    if view.history:
        lines += ["", "### History", ""]
        lines += [f"- {_md_cell(e.get('at'))} {_md_cell(e.get('event'))}"
                  + (f" by {_md_cell(e.get('by'))}" if e.get("by") else "") for e in view.history]
    return "\n".join(lines) + "\n"


def plain_lines(console: Console, renderable: Any) -> str:
    """Render to text; without colour (pipes, NO_COLOR) trailing cell padding is trimmed."""
    with console.capture() as capture:
        console.print(renderable)
    text = capture.get()
    if console.color_system is None or console.no_color:
        text = "\n".join(line.rstrip() for line in text.split("\n"))
    return text


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


def stats_view(stats: Stats) -> Any:
    """Counts, overdue, time to decision per owner and returns by missing field."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

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
    if stats.unverified:
        parts.append(Text(f"{stats.unverified} recorded decision"
                          f"{'s' if stats.unverified != 1 else ''} {NOT_VERIFIED}: not counted "
                          "in the time to decision; run 'handoff verify'", style="bold red"))
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


def _may_decide_text(view: ReviewView) -> str:
    """Who the runbook lets decide, or why nobody may until `handoff route` repairs it."""
    if view.authority_problem:
        return f"nobody: {view.authority_problem}"
    return ", ".join(view.members) if view.members else "anyone"


def _may_decide(view: ReviewView) -> Any:
    from rich.text import Text

    text = safe_text(_may_decide_text(view))
    return Text(text, style="bold red") if view.authority_problem else Text(text)
