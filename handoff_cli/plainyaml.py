"""A direct reader for the plain block YAML that packets are written in.

Frontmatter is almost always block mappings and sequences of one-line plain or simply quoted
scalars. For exactly that subset this builds the same data PyYAML's packet loader builds
(the same implicit types: null, bool, int and float through PyYAML's own resolvers and
constructors, timestamps left as text), without building YAML events and nodes first.

Anything else (flow collections, block scalars, multi-line scalars, anchors, aliases, tags,
escapes, tabs, unusual line breaks or characters, a repeated key, a non-string key, any
indentation it does not expect) makes it answer None, and the caller takes PyYAML's path: so
every refusal (H108, H110, H111, H112) and every message still comes from PyYAML. Tests compare
both paths on the corpus and on generated documents.
"""

from __future__ import annotations

import re
from collections.abc import Container
from typing import Any

# Characters after which PyYAML's reader, scanner or line handling does something this reader
# does not: tabs, CR, NEL, the Unicode line and paragraph separators, a BOM, and everything the
# reader refuses as non-printable.
_UNUSUAL = re.compile("[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd"
                      "\U00010000-\U0010ffff]")
_MARKER = re.compile(r"^(?:---|\.\.\.)", re.MULTILINE)  # document markers and the like
# A plain scalar may not start with an indicator (or starts something else: '-' a sequence or
# a number, '?' and ':' complex keys, '%' a directive); such a value is left to PyYAML.
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_MAX_DEPTH = 64
_MAX_REMEMBERED = 4096
_MAX_KEY = 1000  # PyYAML refuses implicit keys longer than 1024 characters
_STR = "tag:yaml.org,2002:str"
_CONSTRUCTED = frozenset({"tag:yaml.org,2002:null", "tag:yaml.org,2002:bool",
                          "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})

Line = tuple[int, str]  # (indentation, content without indentation or trailing spaces)


class _Anything:
    """Contains every character (when a resolver applies to any first character)."""

    def __contains__(self, item: object) -> bool:
        return True


class _Defer(Exception):
    """The text is outside the subset: PyYAML reads it."""


class PlainReader:
    """Reads plain block YAML with the implicit resolvers of one PyYAML loader class."""

    def __init__(self, loader: Any) -> None:
        import yaml

        self.resolvers: dict[str | None, list[tuple[str, Any]]] = dict(
            loader.yaml_implicit_resolvers)
        self.wildcard = self.resolvers.get(None, [])
        # First characters of plain scalars that may resolve to another type than text.
        self.typed_first: Container[str] = _Anything() if self.wildcard else frozenset(
            first for first in self.resolvers if first)
        self.constructor = yaml.constructor.SafeConstructor()
        self.scalar_node = yaml.ScalarNode
        self.keys: set[str] = set()  # keys already found plain strings (packets share keys)

    def read(self, text: str) -> dict[str, Any] | None:
        """The mapping PyYAML would build from `text`, or None to let PyYAML read it."""
        if _UNUSUAL.search(text) or _MARKER.search(text):
            return None
        lines: list[Line] = []
        for raw in text.split("\n"):
            content = raw.lstrip(" ")
            if not content or content[0] == "#":
                continue  # blank or a comment line
            lines.append((len(raw) - len(content), content.rstrip(" ")))
        if not lines or lines[0][0] != 0:
            return None
        try:
            data, end = self._mapping(lines, 0, 0, 0)
        except (_Defer, RecursionError, ValueError, OverflowError):
            return None
        return data if end == len(lines) and data else None

    def _block(self, lines: list[Line], i: int, indent: int, depth: int) -> tuple[Any, int]:
        if depth > _MAX_DEPTH:
            raise _Defer
        content = lines[i][1]
        if content == "-" or content.startswith("- "):
            return self._sequence(lines, i, indent, depth + 1)
        return self._mapping(lines, i, indent, depth + 1)

    def _mapping(self, lines: list[Line], i: int, indent: int,
                 depth: int) -> tuple[dict[str, Any], int]:
        result: dict[str, Any] = {}
        count = len(lines)
        keys, typed_first, indicators = self.keys, self.typed_first, _INDICATORS
        while i < count:
            here, content = lines[i]
            if here != indent:
                if here < indent:
                    break
                raise _Defer  # a continuation line, or indentation PyYAML would refuse
            first = content[0]
            if first == "-" and (len(content) == 1 or content[1] == " "):
                break  # the caller's (a sequence at the indentation of its key) or an error
            colon = content.find(": ")
            if colon > 0 and first not in indicators:  # the common `key: value` line
                key = content[:colon]
                if key not in keys:
                    self._check_key(key)
                rest: str | None = content[colon + 2:].lstrip(" ")
                if not rest or rest[0] == "#":
                    rest = None
            else:
                split = self._key(content)
                if split is None:
                    raise _Defer
                key, rest = split
            if key in result:
                raise _Defer  # H108 with PyYAML's message
            i += 1
            if rest is None:
                if i < count and (lines[i][0] > indent or (
                        lines[i][0] == indent and (lines[i][1] == "-"
                                                   or lines[i][1].startswith("- ")))):
                    value, i = self._block(lines, i, lines[i][0], depth)
                else:
                    value = None
            elif (rest[0] not in indicators and rest[0] not in typed_first
                  and " #" not in rest and ": " not in rest and rest[-1] != ":"):
                value = rest  # plain text (what _scalar returns for it, sooner)
            else:
                value = self._scalar(rest)
            result[key] = value
        return result, i

    def _sequence(self, lines: list[Line], i: int, indent: int,
                  depth: int) -> tuple[list[Any], int]:
        items: list[Any] = []
        count = len(lines)
        while i < count:
            here, content = lines[i]
            if here < indent:
                break
            if here > indent:
                raise _Defer
            if content == "-":
                i += 1
                if i < count and lines[i][0] > indent:
                    value, i = self._block(lines, i, lines[i][0], depth)
                else:
                    value = None
            elif content.startswith("- "):
                rest = content[2:]
                item = rest.lstrip(" ")
                column = indent + 2 + len(rest) - len(item)
                if item == "-" or item.startswith("- ") or self._key(item) is not None:
                    lines[i] = (column, item)  # a nested node starts at the item's column
                    value, i = self._block(lines, i, column, depth)
                else:
                    value = self._scalar(item)
                    i += 1
            else:
                break
            items.append(value)
        return items, i

    def _key(self, content: str) -> tuple[str, str | None] | None:
        """(key, the value text or None when nothing follows) for a `key: value` line; None
        for a line that is no such line."""
        first = content[0]
        if first == '"' or first == "'":
            if self._quoted_end(content) == len(content):
                return None  # a quoted scalar on its own
            raise _Defer  # a quoted key, or something after a quoted scalar
        if first in _INDICATORS:
            raise _Defer
        colon = content.find(": ")
        if colon < 0:
            if content[-1] != ":":
                return None
            colon = len(content) - 1
        key = content[:colon]
        if key not in self.keys:
            self._check_key(key)
        rest = content[colon + 2:].lstrip(" ")
        if not rest or rest[0] == "#":
            return key, None
        return key, rest

    def _check_key(self, key: str) -> None:
        """Raise _Defer for a key this reader leaves to PyYAML; remember the others."""
        if not key or key[-1] in " :" or " #" in key or len(key) > _MAX_KEY:
            raise _Defer
        if self._tag(key) != _STR:
            raise _Defer  # a null, bool or number key: PyYAML says why it is refused
        if len(self.keys) < _MAX_REMEMBERED:
            self.keys.add(key)

    def _quoted_end(self, text: str) -> int:
        """Where a one-line quoted scalar without escapes ends, after any comment; raise _Defer
        for anything else."""
        quote = text[0]
        if quote == '"':
            close = text.find('"', 1)
            if close < 0 or "\\" in text[1:close]:
                raise _Defer
        else:
            close = 1
            while True:
                close = text.find("'", close)
                if close < 0:
                    raise _Defer
                if text[close + 1 : close + 2] != "'":
                    break
                close += 2
        after = text[close + 1 :]
        if after and not (after[0] == " " and after.lstrip(" ")[0] == "#"):
            raise _Defer
        return len(text)

    def _scalar(self, text: str) -> Any:
        first = text[0]
        if first == '"':
            self._quoted_end(text)
            return text[1 : text.find('"', 1)]
        if first == "'":
            self._quoted_end(text)
            close = 1
            while True:
                close = text.find("'", close)
                if text[close + 1 : close + 2] != "'":
                    break
                close += 2
            return text[1:close].replace("''", "'")
        if first in _INDICATORS:
            raise _Defer
        comment = text.find(" #")
        if comment >= 0:
            text = text[:comment].rstrip(" ")
        if ": " in text or text[-1] == ":":
            raise _Defer
        if first not in self.typed_first:
            return text  # no implicit type starts with this character
        tag = self._tag(text)
        if tag == _STR:
            return text
        if tag not in _CONSTRUCTED:
            raise _Defer
        constructor = self.constructor
        return constructor.yaml_constructors[tag](constructor, self.scalar_node(tag, text))

    def _tag(self, value: str) -> str:
        """The tag PyYAML's resolver gives a plain scalar (BaseResolver.resolve)."""
        resolvers = self.resolvers.get(value[0] if value else "", [])
        for tag, regexp in (resolvers + self.wildcard if self.wildcard else resolvers):
            if regexp.match(value):
                return str(tag)
        return _STR
