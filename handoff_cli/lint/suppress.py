"""Suppressions: `# handoff: disable=H202,H603` in a packet's frontmatter, and `lint.ignore`
path patterns in handoff.yaml. A suppression that suppressed nothing is reported (H901).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..workspace import IgnoreEntry
from .registry import RULES_BY_KEY

UNUSED = "H901"
# A directive is a whole YAML comment line in the frontmatter; codes are ids or rule names.
DIRECTIVE = re.compile(r"^[ \t]*#[ \t]*handoff:[ \t]*disable[ \t]*=[ \t]*(?P<codes>[^#\r\n]*)",
                       re.IGNORECASE | re.MULTILINE)
CODE = re.compile(r"[^\s,]+")

Placed = tuple[str, int, int, str]  # rule code, line, column, message


@dataclass(frozen=True)
class Directive:
    """One rule named in a `# handoff: disable=` comment, where it was written."""

    given: str
    code: str | None  # None: no such rule
    line: int
    column: int


def pattern_matches(pattern: str, relative: str) -> bool:
    """Whether a workspace-relative POSIX path falls under a `lint.ignore` pattern (`*` also
    crosses `/`; a folder means every file under it)."""
    pattern = pattern.strip()
    if pattern.startswith("./"):
        pattern = pattern[2:]
    if fnmatch.fnmatchcase(relative, pattern):
        return True
    folder = pattern.rstrip("/")
    return bool(folder) and relative.startswith(folder + "/")


@dataclass
class SuppressionUse:
    """Which `lint.ignore` (entry, code) pairs suppressed something in this run."""

    used: set[tuple[int, str]] = field(default_factory=set)


def file_directives(text: str) -> list[Directive]:
    """The rules a Markdown packet's frontmatter disables, read from its comment lines only (a
    line of a multi-line string that looks like the comment is text, not a directive)."""
    if "handoff:" not in text:
        return []
    from ..packet import LoadFailure, split_frontmatter

    try:
        yaml_start, yaml_end, _, _ = split_frontmatter(text)
    except LoadFailure:
        return []
    frontmatter = text[yaml_start:yaml_end]
    candidates = list(DIRECTIVE.finditer(frontmatter))
    if not candidates:
        return []
    inside = _scalar_spans(frontmatter)
    first_line = text.count("\n", 0, yaml_start) + 1
    directives = []
    for match in candidates:
        start = match.start()
        hash_at = frontmatter.index("#", start)
        if any(begin <= hash_at < end for begin, end in inside):
            continue
        line = first_line + frontmatter.count("\n", 0, start)
        line_start = frontmatter.rfind("\n", 0, start) + 1
        codes_at = match.start("codes")
        for code in CODE.finditer(match.group("codes")):
            rule = RULES_BY_KEY.get(code.group(0)) or RULES_BY_KEY.get(code.group(0).upper())
            directives.append(Directive(code.group(0), rule.code if rule else None, line,
                                        codes_at + code.start() - line_start + 1))
    return directives


def _scalar_spans(frontmatter: str) -> list[tuple[int, int]]:
    """Character spans of the YAML scalars (a `#` inside one is text, not a comment)."""
    import yaml

    spans = []
    try:
        for token in yaml.scan(frontmatter, Loader=yaml.SafeLoader):
            if isinstance(token, yaml.ScalarToken):
                spans.append((token.start_mark.index, token.end_mark.index))
    except yaml.YAMLError:
        return [(0, len(frontmatter))]  # unreadable YAML: honour no directive in it
    return spans


def matching_entries(entries: Sequence[IgnoreEntry], relative: str | None) -> list[int]:
    """Indexes of the `lint.ignore` entries whose pattern covers the file."""
    if relative is None:
        return []
    return [i for i, entry in enumerate(entries) if pattern_matches(entry.pattern, relative)]


def suppress_file(issues: Sequence[Placed], directives: Sequence[Directive],
                  entries: Sequence[IgnoreEntry], matching: Sequence[int],
                  use: SuppressionUse, directives_allowed: bool = True) -> list[Placed]:
    """The file's issues less the suppressed ones, plus an H901 for each directive that
    suppressed nothing (or names no rule, or is not allowed by handoff.yaml)."""
    by_config: dict[str, list[int]] = {}
    for index in matching:
        for code, _ in entries[index].codes:
            by_config.setdefault(code, []).append(index)
    disabled = {d.code for d in directives if d.code is not None} if directives_allowed else set()
    kept: list[Placed] = []
    fired: set[str] = set()
    for issue in issues:
        code = issue[0]
        if code in by_config:
            for index in by_config[code]:
                use.used.add((index, code))
        if code in disabled and code != UNUSED:
            fired.add(code)
        if code in by_config or (code in disabled and code != UNUSED):
            continue
        kept.append(issue)
    unused: list[Placed] = []
    for directive in directives:
        if not directives_allowed:
            message = (f"suppression of '{directive.given}' is not honoured: "
                       "lint.fileSuppressions is false in handoff.yaml")
        elif directive.code is None:
            message = f"suppression names no rule: '{directive.given}' (see 'handoff rules')"
        elif directive.code == UNUSED:
            message = f"{UNUSED} cannot be disabled in the file it reports on; use lint.ignore"
        elif directive.code not in fired:
            message = (f"unused suppression: {directive.code} found nothing to suppress "
                       "in this file")
        else:
            continue
        unused.append((UNUSED, directive.line, directive.column, message))
    if UNUSED in by_config:
        for index in by_config[UNUSED]:
            if unused:
                use.used.add((index, UNUSED))
        unused = []
    return kept + unused


def unused_entries(entries: Sequence[IgnoreEntry], use: SuppressionUse) -> list[Placed]:
    """An H901 (placed in handoff.yaml) for each `lint.ignore` code that suppressed nothing in a
    run over the whole workspace."""
    found = []
    for index, entry in enumerate(entries):
        for code, line in entry.codes:
            if (index, code) not in use.used:
                found.append((UNUSED, line, 1,
                              f"unused suppression: lint.ignore '{entry.pattern}' {code} "
                              "suppressed nothing"))
    return found
