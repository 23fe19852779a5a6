"""`handoff lint --fix` / `--diff`: the safe, byte-preserving fixes for lint findings.

Only keys are set (through editing.set_keys: every other byte stays), only for findings that
are reported (a suppressed finding is not fixed), and each write is atomic under the packet's
lock, re-planned from the file as it is then.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..packet import LoadFailure, Packet, load_packet
from ..workspace import Workspace
from .engine import Finding, collect_targets, lint_paths

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Fix:
    """One key a fix sets, for which finding, and why."""

    rule: str
    key: str
    old: Any
    new: Any
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "key": self.key, "from": self.old, "to": self.new,
                "reason": self.reason}


@dataclass
class FileFix:
    """The fixes for one file, the text before and after, and whether it was written."""

    path: Path
    shown: str
    fixes: list[Fix]
    before: str
    after: str
    written: bool = False
    note: str | None = None


@dataclass
class FixReport:
    """What `lint --fix` fixed (or, with --diff, would fix), and the findings that remain."""

    files: list[FileFix] = field(default_factory=list)
    remaining: list[Finding] = field(default_factory=list)

    @property
    def fixed(self) -> int:
        return sum(len(f.fixes) for f in self.files if f.note is None)


def fix_paths(workspace: Workspace, paths: Sequence[Path] = (), *, write: bool = True,
              actor: str = "handoff lint --fix", now: datetime | None = None) -> FixReport:
    """Fix what can be fixed safely in the given packet files (default: the whole queue); with
    write=False only plan the fixes (for --diff). Then lint again for what remains."""
    from ..timeutil import now_utc

    now = now or now_utc()
    findings = lint_paths(workspace, paths)
    by_path: dict[str, set[str]] = {}
    for finding in findings:
        if finding.rule in FIXABLE:
            by_path.setdefault(finding.path, set()).add(finding.rule)
    report = FixReport()
    for target in collect_targets(workspace, paths):
        rules = by_path.get(target.shown)
        if not rules:
            continue
        try:
            packet = load_packet(target.path, workspace.settings.max_file_bytes)
        except LoadFailure:
            continue
        fixes, updates = plan_fixes(workspace, packet, rules, actor, now)
        if not fixes:
            continue
        after = _edited(packet, updates)
        file_fix = FileFix(target.path, target.shown, fixes, packet.text, after)
        if write:
            _write(workspace, file_fix, rules, actor, now)
        report.files.append(file_fix)
    report.remaining = lint_paths(workspace, paths) if write else findings
    return report


def _edited(packet: Packet, updates: dict[str, Any]) -> str:
    from ..editing import set_keys

    return set_keys(packet.text, packet.kind, updates)  # type: ignore[arg-type]


def _write(workspace: Workspace, file_fix: FileFix, rules: set[str], actor: str,
           now: datetime) -> None:
    """Write under the packet's lock, planned again from the file as it is now."""
    from ..editing import EditError
    from ..errors import PacketError
    from ..store import lock_key, packet_lock, replace_file

    try:
        packet = load_packet(file_fix.path, workspace.settings.max_file_bytes)
    except LoadFailure as failure:
        file_fix.note = f"not fixed: {failure.code} {failure.message}"
        return
    with packet_lock(workspace.state_dir, lock_key(packet.run_id, packet.path)):
        try:
            fresh = load_packet(file_fix.path, workspace.settings.max_file_bytes)
        except LoadFailure as failure:
            file_fix.note = f"not fixed: it changed meanwhile ({failure.message})"
            return
        fixes, updates = plan_fixes(workspace, fresh, rules, actor, now)
        if not fixes:
            file_fix.note = "not fixed: it changed meanwhile and needs no fix now"
            return
        try:
            after = _edited(fresh, updates)
        except EditError as exc:
            file_fix.note = f"not fixed: cannot edit it safely: {exc}"
            return
        try:
            replace_file(workspace.state_dir, fresh.path, lock_key(fresh.run_id, fresh.path),
                         after, expected=fresh.text, shown=workspace.relative(fresh.path),
                         limit=workspace.settings.max_file_bytes)
        except PacketError as exc:  # the fix would take it over the size bound
            file_fix.note = f"not fixed: {exc.message}"
            return
        file_fix.fixes, file_fix.before, file_fix.after = fixes, fresh.text, after
        file_fix.written = True


def plan_fixes(workspace: Workspace, packet: Packet, rules: set[str], actor: str,
               now: datetime) -> tuple[list[Fix], dict[str, Any]]:
    """The fixes for the reported rules of one packet and the keys they set (pure)."""
    data = dict(packet.data)
    fixes: list[Fix] = []
    updates: dict[str, Any] = {}

    def set_key(rule: str, key: str, value: Any, reason: str) -> None:
        fixes.append(Fix(rule, key, data.get(key), value, reason))
        updates[key] = value
        data[key] = value

    if "H202" in rules and "handoffType" not in data:
        inferred = infer_type(workspace, data)
        if inferred is not None:
            set_key("H202", "handoffType", inferred[0], inferred[1])
    stem = packet.path.stem
    if RUN_ID.match(stem) and data.get("runId") != stem and (
            "H602" in rules or ("H201" in rules and "runId" not in data)):
        set_key("H602" if "runId" in data else "H201", "runId", stem, "from the file name")
    if "H704" in rules and "status" not in data and isinstance(data.get("decision"), dict):
        option = data["decision"].get("option")
        set_key("H704", "status", "decided" if option is not None else "returned",
                "from the recorded decision")
    # An inferred type could not be routed before: its owner is checked now, as H503 would.
    inferred_type = "handoffType" in updates
    if "H503" in rules or inferred_type or ("H201" in rules and "ownerRole" not in data):
        _route(workspace, packet, data, fixes, updates, actor, now)
    return fixes, updates


def _route(workspace: Workspace, packet: Packet, data: dict[str, Any], fixes: list[Fix],
           updates: dict[str, Any], actor: str, now: datetime) -> None:
    """The owner and due time from the runbook, exactly as `handoff route` sets them (with its
    history event); never a move to the exception queue, never an escalation."""
    from ..routing import plan_packet

    rule = "H503" if "ownerRole" in data else "H201"
    view = Packet(path=packet.path, kind=packet.kind, text=packet.text, data=data)
    plan = plan_packet(workspace, view, escalate=False, actor=actor, now=now)
    if plan.move_to is not None or plan.remove or "ownerRole" not in plan.updates:
        return
    for change in plan.changes:
        fixes.append(Fix(rule, change.field, change.old, plan.updates[change.field],
                         change.reason))
    updates.update(plan.updates)
    data.update(plan.updates)


def infer_type(workspace: Workspace, data: dict[str, Any]) -> tuple[str, str] | None:
    """The handoff type whose template the packet was made from: the one type whose template's
    evidence keys and fixed option labels the packet all carries (None when not exactly one)."""
    from ..packet import evidence_entries, option_labels
    from .rules import PLACEHOLDER

    keys = {name for name, _ in evidence_entries(data)}
    labels = set(option_labels(data))
    matches = []
    for type_name in sorted(workspace.runbook.types):
        template = _template_data(workspace, type_name)
        if template is None:
            continue
        template_evidence = template.get("evidence")
        wanted_keys = set(template_evidence) if isinstance(template_evidence, dict) else set()
        wanted_labels = {label for label in option_labels(template)
                         if not PLACEHOLDER.search(label)}
        if (wanted_keys or wanted_labels) and wanted_keys <= keys and wanted_labels <= labels:
            matches.append(type_name)
    if len(matches) != 1:
        return None
    return matches[0], f"its evidence keys and options are those of the {matches[0]} template"


def _template_data(workspace: Workspace, type_name: str) -> dict[str, Any] | None:
    from ..packet import parse_markdown

    path = workspace.templates_dir / workspace.runbook.types[type_name].template
    try:
        text = workspace.template_text(type_name)
        return None if text is None else parse_markdown(path, text).data
    except (ConfigError, LoadFailure):  # a broken template is no guide to the type
        return None


def unified_diff(file_fix: FileFix) -> str:
    """The fix as a unified diff (agent text in it made terminal-safe)."""
    import difflib

    from ..textsafe import safe_text

    lines = difflib.unified_diff(
        file_fix.before.splitlines(keepends=True), file_fix.after.splitlines(keepends=True),
        fromfile=f"a/{file_fix.shown}", tofile=f"b/{file_fix.shown}")
    out = []
    for line in lines:
        body = line.rstrip("\r\n")
        out.append(safe_text(body) + "\n")
    return "".join(out)


# Rules with a safe fix (and the keys it sets); the rules table shows them.
FIXABLE: dict[str, str] = {
    "H201": "a missing runId (from the file name) or ownerRole (from the runbook)",
    "H202": "a missing handoffType (from the template the packet was made from)",
    "H503": "ownerRole, and a missing createdAt/dueBy, from the runbook (as `handoff route`)",
    "H602": "runId from the file name",
    "H704": "a missing status, from the recorded decision",
}
