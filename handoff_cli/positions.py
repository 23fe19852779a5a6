"""Source positions of every key and list item in packet YAML frontmatter and JSON.
Lint places findings with these spans; the editor uses them to cut out keys."""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from yaml.events import CollectionStartEvent, Event

Path = tuple[str | int, ...]

# Paths are tuples, so reporting every level of a deeply nested document would take
# quadratic memory; entries nested deeper than this are not reported (their ancestors are).
MAX_DEPTH = 64

_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_JSON_ATOM = re.compile(
    r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null|NaN|-?Infinity"
)


@dataclass(frozen=True)
class Span:
    """Where one mapping entry or sequence item sits in the source text."""

    line: int  # 1-based line of the key (for list items: of the item) in the whole file
    column: int  # 1-based column of the key (or item)
    start: int  # offset of the key's (or item's) first character
    value_start: int  # offset where the value starts
    end: int  # offset just past the value's last character


class _Lines:
    """Maps string offsets to 1-based (line, column), counting only '\\n' as a break."""

    def __init__(self, text: str, offset: int, line_offset: int) -> None:
        self._starts = [0, *(m.end() for m in re.finditer("\n", text))]
        self._offset = offset
        self._line_offset = line_offset
        self._bom = text.startswith("\ufeff")

    def span(self, start: int, value_start: int, end: int) -> Span:
        """Return the Span for local offsets, shifted to whole-file offsets."""
        row = bisect_right(self._starts, start) - 1
        column = start - self._starts[row] + 1
        if row == 0 and self._bom:
            column -= 1  # editors do not show the byte order mark as a column
        shift = self._offset
        return Span(
            row + 1 + self._line_offset, column, start + shift, value_start + shift, end + shift
        )


# ---------------------------------------------------------------- YAML


@dataclass
class _Node:
    """An open YAML collection while walking the event stream."""

    path: Path | None  # None: inside a complex key or under a non-scalar key, not reported
    entry_start: int
    value_start: int
    is_map: bool
    flow: bool
    is_key: bool = False  # this collection is itself a mapping key
    expecting_key: bool = True
    key: str | None = None
    key_start: int = 0
    key_end: int = 0
    count: int = 0
    last_end: int = -1


def yaml_spans(
    text: str, offset: int = 0, line_offset: int = 0
) -> dict[tuple[str | int, ...], Span]:
    """Return the Span of every mapping key and sequence item in YAML text, by path.

    Raises yaml.YAMLError when the text is not valid YAML. Mapping keys in paths are
    the key scalar's text; entries under non-scalar keys are not reported.
    """
    return _YamlWalk(text, _Lines(text, offset, line_offset)).spans()


class _YamlWalk:
    """Builds spans from the parser's event stream: flat, so depth and aliases stay cheap."""

    def __init__(self, text: str, lines: _Lines) -> None:
        self.text = text
        self.lines = lines
        self.stack: list[_Node] = []
        self.result: dict[Path, Span] = {}

    def spans(self) -> dict[Path, Span]:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        for event in yaml.parse(self.text, Loader=loader):
            if isinstance(event, yaml.CollectionStartEvent):
                self._open(event, isinstance(event, yaml.MappingStartEvent))
            elif isinstance(event, yaml.CollectionEndEvent):
                self._close(_end(event))
            elif isinstance(event, yaml.ScalarEvent):
                self._leaf(event, str(event.value), event.style)
            elif isinstance(event, yaml.AliasEvent):
                self._leaf(event, None, None)
            elif isinstance(event, yaml.DocumentEndEvent):
                break
        return self.result

    def _open(self, event: CollectionStartEvent, is_map: bool) -> None:
        start = _start(event)
        flow = bool(event.flow_style)
        parent = self.stack[-1] if self.stack else None
        if parent is not None and parent.is_map and parent.expecting_key:
            self.stack.append(_Node(None, start, start, is_map, flow, is_key=True))
            return
        path, entry_start = self._child(parent, start)
        self.stack.append(_Node(path, entry_start, start, is_map, flow))

    def _close(self, end_index: int) -> None:
        node = self.stack.pop()
        end = end_index if node.flow or node.last_end < 0 else node.last_end
        parent = self.stack[-1] if self.stack else None
        if node.is_key and parent is not None:
            parent.key, parent.key_start, parent.key_end = None, node.value_start, end
            parent.expecting_key = False
            return
        self._finish(parent, node.path, node.entry_start, node.value_start, end)

    def _leaf(self, event: Event, value: str | None, style: str | None) -> None:
        """Handle a scalar (value is its text) or an alias (value is None)."""
        start, end = _start(event), _end(event)
        parent = self.stack[-1] if self.stack else None
        if parent is None:
            return
        if parent.is_map and parent.expecting_key:
            parent.key = value
            parent.key_start, parent.key_end = start, end
            parent.expecting_key = False
            return
        if value == "" and start == end and not style:
            start = end = self._empty_value_position(parent, start)
        elif style in ("|", ">"):
            end = self._block_scalar_end(start, end)
        path, entry_start = self._child(parent, start)
        self._finish(parent, path, entry_start, start, end)

    def _child(self, parent: _Node | None, value_start: int) -> tuple[Path | None, int]:
        """Return the path and entry start of the value that begins at value_start."""
        if parent is None:
            return (), value_start
        name: str | int | None = parent.key
        entry_start = parent.key_start
        if not parent.is_map:
            entry_start, name = value_start, parent.count
        if parent.path is None or name is None or len(parent.path) >= MAX_DEPTH:
            return None, entry_start
        return (*parent.path, name), entry_start

    def _finish(
        self, parent: _Node | None, path: Path | None, entry_start: int, start: int, end: int
    ) -> None:
        if path:
            self.result[path] = self.lines.span(entry_start, start, end)
        if parent is None:
            return
        parent.last_end = end
        if parent.is_map:
            parent.expecting_key = True
        else:
            parent.count += 1

    def _empty_value_position(self, parent: _Node, mark: int) -> int:
        """Place an empty value just after its ':' or '-' instead of at the next token."""
        text = self.text
        if parent.is_map:
            i = _skip(text, parent.key_end, " \t")
            return i + 1 if text.startswith(":", i) else parent.key_end
        if parent.flow:
            return mark
        i = _skip_comments(text, parent.last_end if parent.count else parent.value_start)
        return i + 1 if text.startswith("-", i) else mark

    def _block_scalar_end(self, start: int, end: int) -> int:
        """Return the end of a block scalar's last content line (the mark includes blank lines)."""
        stripped = self.text[start:end].rstrip(" \t\r\n")
        i = start + len(stripped)
        return _skip(self.text, i, " \t", end)


def _start(event: Event) -> int:
    return 0 if event.start_mark is None else int(event.start_mark.index)


def _end(event: Event) -> int:
    return 0 if event.end_mark is None else int(event.end_mark.index)


def _skip(text: str, i: int, chars: str, stop: int | None = None) -> int:
    limit = len(text) if stop is None else stop
    while i < limit and text[i] in chars:
        i += 1
    return i


def _skip_comments(text: str, i: int) -> int:
    """Skip whitespace and '#' comments forward from i."""
    while i < len(text):
        if text[i] in " \t\r\n":
            i += 1
        elif text[i] == "#":
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline
        else:
            break
    return i


# ---------------------------------------------------------------- JSON


@dataclass
class _Container:
    """An open JSON object or array while scanning."""

    path: Path | None
    entry_start: int
    value_start: int
    is_object: bool
    count: int = 0


def json_spans(text: str) -> dict[tuple[str | int, ...], Span]:
    """Return the Span of every object key and array item in JSON text, by path.

    The text must be valid JSON (a leading BOM is allowed); raises ValueError otherwise.
    """
    try:
        return _scan_json(text, _Lines(text, 0, 0))
    except IndexError:
        raise ValueError("unexpected end of JSON text") from None


def _scan_json(text: str, lines: _Lines) -> dict[Path, Span]:
    result: dict[Path, Span] = {}
    stack: list[_Container] = []
    pos = _ws(text, 1 if text.startswith("\ufeff") else 0)
    path: Path | None = ()
    entry_start = pos
    while True:
        if text[pos] in "{[":
            stack.append(_Container(path, entry_start, pos, text[pos] == "{"))
            pos = _ws(text, pos + 1)
            if text[pos] not in "}]":
                path, entry_start, pos = _member(text, pos, stack[-1])
                continue
            end = pos + 1
            closed = stack.pop()
            path, entry_start, value_start = closed.path, closed.entry_start, closed.value_start
        else:
            value_start, end = pos, _atom_end(text, pos)
        while True:
            if path:
                result[path] = lines.span(entry_start, value_start, end)
            pos = _ws(text, end)
            if not stack:
                if pos != len(text):
                    raise ValueError(f"extra data at offset {pos}")
                return result
            if text[pos] == ",":
                path, entry_start, pos = _member(text, _ws(text, pos + 1), stack[-1])
                break
            _expect(text, pos, "}" if stack[-1].is_object else "]")
            closed = stack.pop()
            path, entry_start, value_start = closed.path, closed.entry_start, closed.value_start
            end = pos + 1


def _member(text: str, pos: int, container: _Container) -> tuple[Path | None, int, int]:
    """Read up to the start of the next member's value: return its path, entry start, value."""
    name: str | int = container.count
    container.count += 1
    entry_start = value_start = pos
    if container.is_object:
        _expect(text, pos, '"')
        name, key_end = _string(text, pos)
        colon = _ws(text, key_end)
        _expect(text, colon, ":")
        value_start = _ws(text, colon + 1)
    parent = container.path
    if parent is None or len(parent) >= MAX_DEPTH:
        return None, entry_start, value_start
    return (*parent, name), entry_start, value_start


def _atom_end(text: str, pos: int) -> int:
    if text[pos] == '"':
        return _string(text, pos)[1]
    match = _JSON_ATOM.match(text, pos)
    if match is None:
        raise ValueError(f"unexpected character at offset {pos}")
    return match.end()


def _string(text: str, pos: int) -> tuple[str, int]:
    """Decode the JSON string whose opening quote is at pos; return it and its end."""
    match = _JSON_STRING.match(text, pos)
    if match is None:
        raise ValueError(f"unterminated string at offset {pos}")
    return str(json.loads(match.group())), match.end()


def _ws(text: str, pos: int) -> int:
    match = _JSON_WS.match(text, pos)
    return pos if match is None else match.end()


def _expect(text: str, pos: int, char: str) -> None:
    if text[pos] != char:
        raise ValueError(f"expected {char!r} at offset {pos}")
