"""Byte-preserving edits of the top-level keys handoff manages in packet files.
Only the edited keys' own text changes: comments, order, quoting, body and line ends stay."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from handoff_cli.positions import Span, json_spans, yaml_spans

_WIDTH = 1 << 30  # never fold a scalar over several lines
_LINE_BREAKS = "\n\r\x85\u2028\u2029"
_MARKERS = ("---", "...")


class EditError(ValueError):
    """The packet text cannot be edited safely; the message says why."""


def set_keys(
    text: str,
    kind: Literal["md", "json"],
    updates: Mapping[str, object],
    remove: Iterable[str] = (),
) -> str:
    """Return text with each top-level key in updates set and each key in remove deleted."""
    removed = list(dict.fromkeys(remove))
    for key in removed:
        if key in updates:
            raise EditError(f"key {key!r} is both set and removed")
    if kind == "md":
        return _edit_markdown(text, updates, removed)
    if kind == "json":
        return _edit_json(text, updates, removed)
    raise EditError(f"unknown packet kind {kind!r}")


def _expected(
    old: Mapping[str, object], updates: Mapping[str, object], removed: list[str]
) -> dict[str, object]:
    data = dict(old)
    for key in removed:
        data.pop(key, None)
    data.update(updates)
    return data


def _same(a: object, b: object) -> bool:
    """Deep equality that also matches NaN with NaN and tells True from 1."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _check(loaded: object, expected: dict[str, object], what: str) -> None:
    try:
        same = _same(loaded, expected)
    except RecursionError:
        same = False
    if not same:
        raise EditError(f"could not edit the {what} without changing other keys; edit it by hand")


# ---------------------------------------------------------------- Markdown frontmatter


@dataclass(frozen=True)
class _Frontmatter:
    """A Markdown packet cut into the part before, inside and after the YAML frontmatter."""

    head: str  # BOM and the opening '---' line with its line end
    yaml: str  # everything up to the closing line, ending in a line end unless empty
    tail: str  # the closing line and the Markdown body
    eol: str


@dataclass(frozen=True)
class _YamlKey:
    """A top-level frontmatter key: its text and where its key scalar sits."""

    name: str | None  # None for a non-scalar key
    start: int
    end: int


def _first_duplicate(names: Sequence[object]) -> object | None:
    """The first name seen twice, in one pass (60k keys must not take a minute under a lock)."""
    seen: set[object] = set()
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def _split_frontmatter(text: str) -> _Frontmatter:
    start = 1 if text.startswith("\ufeff") else 0
    first_end = text.find("\n", start) + 1
    if first_end == 0 or _marker(text[start:first_end]) != "---":
        raise EditError("no frontmatter: the file must start with a '---' line")
    eol = "\r\n" if text[:first_end].endswith("\r\n") else "\n"
    pos = first_end
    while pos < len(text):
        line_end = text.find("\n", pos) + 1 or len(text)
        if _marker(text[pos:line_end]) in _MARKERS:
            return _Frontmatter(text[:first_end], text[first_end:pos], text[pos:], eol)
        pos = line_end
    raise EditError("unterminated frontmatter: no closing '---' line")


def _marker(line: str) -> str:
    return line.rstrip(" \t\r\n")


def _edit_markdown(text: str, updates: Mapping[str, object], removed: list[str]) -> str:
    parts = _split_frontmatter(text)
    try:
        return _edit_markdown_once(parts, updates, removed, keep_blanks=True)
    except EditError:
        # Blank lines left where an entry was removed join a `|+` block above it (and a removed
        # `|+` block owns them anyway). Try once more removing them too (the check still guards).
        return _edit_markdown_once(parts, updates, removed, keep_blanks=False)


def _edit_markdown_once(
    parts: _Frontmatter, updates: Mapping[str, object], removed: list[str], keep_blanks: bool
) -> str:
    source = parts.yaml
    keys, old = _read_frontmatter(source)
    names = [key.name for key in keys if key.name is not None]
    duplicate = _first_duplicate(names)
    if duplicate is not None:
        raise EditError(f"frontmatter has a duplicate key {duplicate!r}")
    located = {key.name: key for key in keys if key.name in old}
    spans = yaml_spans(source) if located else {}
    indent = _line_prefix(source, keys[0].start) if keys else ""
    edits: list[tuple[int, int, str]] = []
    for name in removed:
        if name in located:
            span = spans[(name,)]
            end = _line_end(source, span.end, True)
            if not keep_blanks:
                end = _after_blank_lines(source, end)
            edits.append((_line_start(source, span.start), end, ""))
    appended: list[str] = []
    for name, value in updates.items():
        key = located.get(name)
        if key is None:
            appended.append(indent + _yaml_entry(_yaml_key(name), value, indent, parts.eol))
            continue
        prefix = _line_prefix(source, key.start)
        if prefix.strip():
            raise EditError(f"frontmatter key {name!r} is written in a form that cannot be edited")
        edits.append(
            _yaml_replacement(
                source, key, spans[(name,)].value_start, spans[(name,)].end, value, parts.eol
            )
        )
    new_yaml = _apply(source, edits)
    if appended:
        if new_yaml and not new_yaml.endswith("\n"):
            new_yaml += parts.eol
        new_yaml += "".join(line + parts.eol for line in appended)
    loaded = _load_yaml(new_yaml)
    _check({} if loaded is None else loaded, _expected(old, updates, removed), "frontmatter")
    return parts.head + new_yaml + parts.tail


def _after_blank_lines(source: str, end: int) -> int:
    """The offset past the blank lines that start at `end`."""
    while end < len(source):
        next_end = _line_end(source, end, True)
        if source[end:next_end].strip():
            break
        end = next_end
    return end


def _yaml_replacement(
    source: str, key: _YamlKey, value_start: int, end: int, value: object, eol: str
) -> tuple[int, int, str]:
    """Return the edit that gives an existing key a new value."""
    block = _block_lines(value)
    single_line = "\n" not in source[key.start : end]
    if block is None and single_line:
        # Keep whatever follows the value on its line, such as a trailing comment.
        inline = _inline(value)
        return (value_start, end, inline if value_start < end else " " + inline)
    key_text = source[key.start : key.end]
    indent = _line_prefix(source, key.start)
    return (key.start, _line_end(source, end, False), _yaml_entry(key_text, value, indent, eol))


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _read_frontmatter(source: str) -> tuple[list[_YamlKey], dict[str, object]]:
    """Return the top-level keys and the loaded data; raise EditError unless a block mapping."""
    import yaml

    try:
        keys = _top_level_keys(source)
        old = _load_yaml(source)
    except yaml.YAMLError as error:
        raise EditError(f"frontmatter is not valid YAML: {error}") from None
    if old is None and not keys:
        return keys, {}
    if not isinstance(old, dict):
        raise EditError("frontmatter is not a mapping")
    return keys, old


def _load_yaml(source: str) -> object:
    import yaml

    try:
        return yaml.load(source, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except RecursionError:
        raise EditError("frontmatter is nested too deeply") from None
    except yaml.YAMLError as error:
        raise EditError(f"edited frontmatter would not be valid YAML: {error}") from None


def _top_level_keys(source: str) -> list[_YamlKey]:
    """Walk the parser events and return the root mapping's keys in source order."""
    import yaml

    keys: list[_YamlKey] = []
    depth = 0
    expecting_key = True
    for event in yaml.parse(source, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        if isinstance(event, (yaml.StreamStartEvent, yaml.DocumentStartEvent)):
            continue
        if isinstance(event, (yaml.DocumentEndEvent, yaml.StreamEndEvent)):
            break
        if depth == 0:
            if not isinstance(event, yaml.MappingStartEvent):
                raise EditError("frontmatter is not a mapping")
            if event.flow_style:
                raise EditError(
                    "frontmatter is a flow mapping ({...}); only block mappings can be edited"
                )
        elif depth == 1 and isinstance(event, yaml.NodeEvent):
            if expecting_key:
                name = event.value if isinstance(event, yaml.ScalarEvent) else None
                start, end = event.start_mark, event.end_mark
                assert start is not None and end is not None  # the parser always sets marks
                keys.append(_YamlKey(name, start.index, end.index))
            expecting_key = not expecting_key
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return keys


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _line_prefix(text: str, pos: int) -> str:
    return text[_line_start(text, pos) : pos]


def _line_end(text: str, pos: int, with_break: bool) -> int:
    """Return the end of the line holding pos, after its line break or before it."""
    newline = text.find("\n", pos)
    if newline < 0:
        return len(text)
    if with_break:
        return newline + 1
    return newline - 1 if newline > pos and text[newline - 1] == "\r" else newline


def _yaml_entry(key_text: str, value: object, indent: str, eol: str) -> str:
    """Render `key: value`, block style for non-empty collections, lines joined by eol."""
    block = _block_lines(value)
    if block is None:
        return f"{key_text}: {_inline(value)}"
    return key_text + ":" + "".join(eol + indent + "  " + line for line in block)


def _block_lines(value: object) -> list[str] | None:
    """Return block-style lines for a non-empty mapping or list, None for inline values."""
    lines: list[str] = []
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            nested = _block_lines(item)
            if nested is None:
                lines.append(f"{_yaml_key(key)}: {_inline(item)}")
            else:
                lines.append(f"{_yaml_key(key)}:")
                lines.extend("  " + line for line in nested)
        return lines
    if isinstance(value, (list, tuple)) and value:
        for item in value:
            nested = _block_lines(item)
            if nested is None:
                lines.append(f"- {_inline(item)}")
            else:
                lines.append("- " + nested[0])
                lines.extend("  " + line for line in nested[1:])
        return lines
    return None


def _inline(value: object) -> str:
    """Render a scalar or an empty collection on one line."""
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, (list, tuple)):
        return "[]"
    text = _dump_pair("k", value, None)[len("k: ") :]
    if isinstance(value, str) and any(char in text for char in _LINE_BREAKS):
        text = _dump_pair("k", value, '"')[len('"k": ') :]
    return text


def _yaml_key(key: object) -> str:
    """Render a mapping key as a one-line YAML scalar."""
    text = _dump_pair(key, None, None)
    if text.endswith(": null") and not any(char in text for char in _LINE_BREAKS):
        return text[: -len(": null")]
    if isinstance(key, str) and len(key) < 1000:
        # PyYAML writes keys with line breaks as explicit `? key` entries; quote them inline.
        return _double_quoted(key)
    raise EditError(f"key {key!r} cannot be written as a simple YAML key")


def _double_quoted(text: str) -> str:
    """Return text as a one-line YAML double-quoted scalar, escaping breaks and unprintables."""
    escaped = json.dumps(text, ensure_ascii=False)
    return "".join(char if _printable(char) else f"\\u{ord(char):04x}" for char in escaped)


def _printable(char: str) -> bool:
    code = ord(char)
    if char in _LINE_BREAKS or code in (0xFEFF, 0xFFFE, 0xFFFF):
        return False
    return 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF or code >= 0xE000


def _dump_pair(key: object, value: object, style: str | None) -> str:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    try:
        out = yaml.dump(
            {key: value},
            Dumper=dumper,
            allow_unicode=True,
            width=_WIDTH,
            default_flow_style=False,
            default_style=style,
            sort_keys=False,
        )
    except yaml.YAMLError as error:
        raise EditError(f"value {value!r} cannot be written as YAML: {error}") from None
    return str(out).removesuffix("\n")


# ---------------------------------------------------------------- JSON


@dataclass(frozen=True)
class _JsonEntry:
    """A top-level JSON member: where its key, value and end sit."""

    name: str
    start: int
    key_end: int
    value_start: int
    end: int


@dataclass(frozen=True)
class _JsonStyle:
    """How the file lays out its top-level object."""

    multiline: bool
    indent: str
    key_sep: str
    sep: str
    eol: str

    @property
    def item_sep(self) -> str:
        return self.sep.split("\n")[0].rstrip("\r") if self.multiline else self.sep


def _edit_json(text: str, updates: Mapping[str, object], removed: list[str]) -> str:
    old, names = _load_json_object(text)
    if len(set(names)) != len(names):
        duplicate = _first_duplicate(names)
        raise EditError(f"JSON packet has a duplicate key {duplicate!r}")
    spans = json_spans(text)
    entries = [_json_entry(text, name, spans[(name,)]) for name in names]
    open_at = text.index("{")
    close_at = len(text.rstrip(" \t\r\n")) - 1
    style = _json_style(text, entries, open_at, close_at)
    kept = [e for e in entries if e.name not in removed]
    pieces = [_json_piece(text, e, updates, style) for e in kept]
    following = {id(e): text[e.end : entries[i + 1].start] for i, e in enumerate(entries[:-1])}
    seps = [following[id(e)] for e in kept[:-1]]
    new = [
        json.dumps(name, ensure_ascii=False) + style.key_sep + _json_value(value, style)
        for name, value in updates.items()
        if name not in old
    ]
    interior = _json_interior(text, entries, pieces, seps, new, style, open_at, close_at)
    result = text[: open_at + 1] + interior + text[close_at:]
    _check(_load_json_object(result)[0], _expected(old, updates, removed), "JSON packet")
    return result


def _load_json_object(text: str) -> tuple[dict[str, object], list[str]]:
    """Return the loaded object and its top-level keys in order, duplicates included."""
    last_pairs: list[list[tuple[str, object]]] = []

    def remember(pairs: list[tuple[str, object]]) -> dict[str, object]:
        last_pairs[:] = [pairs]
        return dict(pairs)

    try:
        data = json.loads(text.removeprefix("\ufeff"), object_pairs_hook=remember)
    except (ValueError, RecursionError) as error:
        raise EditError(f"not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise EditError("the JSON packet is not an object")
    return data, [name for name, _ in last_pairs[0]]


def _json_entry(text: str, name: str, span: Span) -> _JsonEntry:
    # Between the key's closing quote and its value there is only ':' and whitespace.
    key = text[span.start : span.value_start].rstrip(" \t\r\n").removesuffix(":")
    key_end = span.start + len(key.rstrip(" \t\r\n"))
    return _JsonEntry(name, span.start, key_end, span.value_start, span.end)


def _json_style(text: str, entries: list[_JsonEntry], open_at: int, close_at: int) -> _JsonStyle:
    """Detect indentation and separators from the first members (defaults for `{}`)."""
    newline = text.find("\n")
    eol = "\r\n" if newline > 0 and text[newline - 1] == "\r" else "\n"
    if not entries:
        multiline = "\n" in text[open_at:close_at]
        indent = "  " if multiline else ""
        return _JsonStyle(multiline, indent, ": ", "," + (eol + indent if multiline else " "), eol)
    first = entries[0]
    multiline = "\n" in text[open_at : first.start]
    indent = _line_prefix(text, first.start) if multiline else ""
    key_sep = text[first.key_end : first.value_start]
    if len(entries) > 1:
        sep = text[first.end : entries[1].start]
    elif multiline:
        sep = "," + eol + indent
    else:
        sep = "," if key_sep == ":" else ", "
    return _JsonStyle(multiline, indent, key_sep, sep, eol)


def _json_value(value: object, style: _JsonStyle, prefix: str | None = None) -> str:
    """Render a value as the file would: nested lines indented under their key."""
    key_sep = style.key_sep if "\n" not in style.key_sep else ": "
    if not style.multiline:
        item_sep = style.item_sep if "\n" not in style.item_sep else ", "
        return json.dumps(value, ensure_ascii=False, separators=(item_sep, key_sep))
    out = json.dumps(
        value, ensure_ascii=False, indent=style.indent, separators=(style.item_sep, key_sep)
    )
    return out.replace("\n", style.eol + (style.indent if prefix is None else prefix))


def _json_piece(
    text: str, entry: _JsonEntry, updates: Mapping[str, object], style: _JsonStyle
) -> str:
    """Return the member's text: unchanged, or its key and separator with the new value."""
    if entry.name not in updates:
        return text[entry.start : entry.end]
    prefix = _line_prefix(text, entry.start)
    value = _json_value(updates[entry.name], style, prefix if not prefix.strip() else None)
    return text[entry.start : entry.value_start] + value


def _json_interior(
    text: str,
    entries: list[_JsonEntry],
    pieces: list[str],
    seps: list[str],
    new: list[str],
    style: _JsonStyle,
    open_at: int,
    close_at: int,
) -> str:
    """Join kept members (with their original separators) and appended members."""
    if not entries:
        if not new:
            return text[open_at + 1 : close_at]
        if style.multiline:
            closing = _line_prefix(text, close_at)
            closing = closing if not closing.strip() else ""
            inner = style.sep.join(new)
            return style.eol + style.indent + inner + style.eol + closing
        return style.sep.join(new)
    members = "".join(piece + sep for piece, sep in zip(pieces[:-1], seps, strict=True))
    members += pieces[-1] if pieces else ""
    if pieces and new:
        members += style.sep
    members += style.sep.join(new)
    if not members:
        return ""
    prefix = text[open_at + 1 : entries[0].start]
    suffix = text[entries[-1].end : close_at]
    return prefix + members + suffix
