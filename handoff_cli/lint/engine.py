"""The lint engine: collect files, load each once, run the rules, place and filter findings.

Loading is separate from checking so that a cache can sit between them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..packet import LoadFailure, Packet, load_packet
from ..workspace import PACKET_SUFFIXES, Workspace, packet_files
from .registry import RULES_BY_CODE
from .rules import CHECKS, PLACEHOLDER, Issue, LintContext, conflict_marker_issues
from .suppress import (
    Directive,
    SuppressionUse,
    file_directives,
    matching_entries,
    suppress_file,
    unused_entries,
)


@dataclass(frozen=True, order=True)
class Finding:
    """One placed lint finding."""

    path: str
    line: int
    column: int
    rule: str
    severity: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Target:
    """A file to lint and the path to show for it."""

    path: Path
    shown: str


def collect_targets(workspace: Workspace, paths: Sequence[Path]) -> list[Target]:
    """The files to lint: the given files, the packet files under given folders, or by default
    every packet file in the workspace's packets/ and exceptions/."""
    if not paths:
        targets = []
        for folder in (workspace.packets_dir, workspace.exceptions_dir):
            targets += [Target(f, _relative(f, workspace.root)) for f in packet_files(folder)]
        return targets
    targets = []
    for given in paths:
        if given.is_dir():
            targets += [Target(f, _join_shown(given, f)) for f in packet_files(given)]
        else:
            targets.append(Target(given, str(given)))
    return targets


def lint_paths(workspace: Workspace, paths: Sequence[Path] = ()) -> list[Finding]:
    """Lint packet files and return every finding at its configured severity, sorted."""
    context = LintContext(workspace, workspace.runbook, template_placeholders(workspace))
    exceptions_context = replace(context, in_exceptions=True)
    exceptions_prefix = os.path.abspath(workspace.exceptions_dir) + os.sep
    targets = collect_targets(workspace, paths)
    # A default run lints every queue file, so the listing answers "does a twin exist?".
    queue_listing = None if paths else {os.path.abspath(t.path) for t in targets}
    findings: list[Finding] = []
    seen_ids: dict[str, str] = {}
    use = SuppressionUse()
    for target in targets:
        try:
            packet = load_packet(target.path, workspace.settings.max_file_bytes,
                                 workspace.real_root_text)
        except LoadFailure as failure:
            placed = [(failure.code, failure.line, failure.column, failure.message)]
            placed += _markers(target.path, failure, workspace.settings.max_file_bytes)
            findings += _placed(workspace, target.shown,
                                suppressed(workspace, target.path, placed, [], use))
            continue
        in_exceptions = os.path.abspath(target.path).startswith(exceptions_prefix)
        issues = list(check_packet(packet, exceptions_context if in_exceptions else context))
        issues += duplicate_issues(packet, workspace, seen_ids, target.shown, queue_listing)
        issues = [i for i in issues if severity_of(workspace, i.code) != "off"]
        directives = file_directives(packet.text) if packet.kind == "md" else []
        findings += _placed(workspace, target.shown,
                            suppressed(workspace, target.path, _positions(packet, issues),
                                       directives, use))
    if not paths and workspace.settings.lint_ignore:  # only a whole run knows what is unused
        findings += _placed(workspace, _relative(workspace.config_path, workspace.root),
                            unused_entries(workspace.settings.lint_ignore, use))
    findings.sort()
    return findings


def suppressed(workspace: Workspace, path: Path, placed: list[tuple[str, int, int, str]],
               directives: list[Directive], use: SuppressionUse
               ) -> list[tuple[str, int, int, str]]:
    """A file's placed issues after its `# handoff: disable=` comments and handoff.yaml's
    `lint.ignore` (suppress.py), with an H901 for each suppression that suppressed nothing."""
    settings = workspace.settings
    if not directives and not settings.lint_ignore:
        return placed
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(workspace.root))
    inside = None if relative.startswith("..") else relative.replace(os.sep, "/")
    matching = matching_entries(settings.lint_ignore, inside)
    return suppress_file(placed, directives, settings.lint_ignore, matching, use,
                         settings.file_suppressions)


def _markers(path: Path, failure: LoadFailure, max_bytes: int) -> list[tuple[str, int, int, str]]:
    """H113 for a file that did not parse: conflict markers are the likely reason why."""
    from ..packet import read_packet_text

    if failure.code not in ("H106", "H107", "H108", "H109", "H110"):
        return []
    try:
        text = read_packet_text(path, max_bytes)
    except (LoadFailure, OSError):
        return []
    return [(i.code, i.line or 1, 1, i.message) for i in conflict_marker_issues(text)]


def check_packet(packet: Packet, context: LintContext) -> Iterable[Issue]:
    """Every issue the rules find in one loaded packet."""
    for check in CHECKS:
        for issue in check(packet, context):
            if context.in_exceptions and not RULES_BY_CODE[issue.code].in_exceptions:
                continue
            yield issue


def duplicate_issues(packet: Packet, workspace: Workspace, seen_ids: dict[str, str], shown: str,
                     queue_listing: set[str] | None) -> list[Issue]:
    """H601: a runId seen earlier in this run, or a same-named packet elsewhere in the queues
    (found from the listing of a full run, else by looking for the twin files)."""
    run_id = packet.run_id
    if run_id is None:
        return []
    if run_id in seen_ids:
        where = seen_ids[run_id]
        return [Issue("H601", ("runId",), f"duplicate runId '{run_id}' (also in {where})")]
    seen_ids[run_id] = shown
    if queue_listing is not None or packet.path.stem != run_id:
        return []
    own = os.path.realpath(packet.path)
    for folder in (workspace.packets_dir, workspace.exceptions_dir):
        for suffix in PACKET_SUFFIXES:
            twin = folder / f"{run_id}{suffix}"
            if twin.is_file() and os.path.realpath(twin) != own:
                where = _relative(twin, workspace.root)
                return [Issue("H601", ("runId",), f"duplicate runId '{run_id}' (also in {where})")]
    return []


def template_placeholders(workspace: Workspace) -> frozenset[str]:
    """Placeholder names used by the workspace's templates (to spot unfilled ones)."""
    names: set[str] = set()
    folder = workspace.templates_dir
    if folder.is_dir():
        for template in folder.glob("*.md"):
            try:
                text = template.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            names.update(m.group(1) or m.group(2) for m in PLACEHOLDER.finditer(text))
    return frozenset(names)


def _positions(packet: Packet, issues: list[Issue]) -> list[tuple[str, int, int, str]]:
    placed = []
    for issue in issues:
        if issue.line is not None:
            line, column = issue.line, 1
        else:
            line, column = packet.position(issue.keypath)
        placed.append((issue.code, line, column, issue.message))
    return placed


def _placed(workspace: Workspace, shown: str,
            issues: list[tuple[str, int, int, str]]) -> list[Finding]:
    findings = []
    for code, line, column, message in issues:
        severity = severity_of(workspace, code)
        if severity != "off":
            findings.append(Finding(shown, line, column, code, severity, message))
    return findings


def severity_of(workspace: Workspace, code: str) -> str:
    """A rule's severity in this workspace: handoff.yaml's setting, else the rule's default."""
    return workspace.settings.rule_severity.get(code, RULES_BY_CODE[code].severity)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _join_shown(given: Path, found: Path) -> str:
    try:
        return (given / found.relative_to(given)).as_posix()
    except ValueError:
        return str(found)


def lint_text(workspace: Workspace, path: Path, text: str) -> list[Finding]:
    """Lint a packet that is not written yet, as if its text were at `path` (for `new --strict`:
    nothing touches the disk). The duplicate-runId check is the caller's."""
    from ..packet import parse_json_object, parse_markdown

    shown = _relative(path, workspace.root)
    try:
        if path.suffix.lower() == ".json":
            packet = Packet(path=path, kind="json", text=text, data=parse_json_object(text))
        else:
            packet = parse_markdown(path, text)
    except LoadFailure as failure:
        return _placed(workspace, shown,
                       [(failure.code, failure.line, failure.column, failure.message)])
    in_exceptions = os.path.abspath(path).startswith(os.path.abspath(workspace.exceptions_dir)
                                                     + os.sep)
    context = LintContext(workspace, workspace.runbook, template_placeholders(workspace),
                          in_exceptions=in_exceptions)
    issues = [i for i in check_packet(packet, context) if severity_of(workspace, i.code) != "off"]
    return sorted(_placed(workspace, shown, _positions(packet, issues)))
