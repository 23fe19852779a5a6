"""The packet model and its one loader for both forms (Markdown frontmatter and JSON).

Loading is cheap on the clean path; key positions are computed only when asked for.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml  # every command that loads a packet needs it; --help and --version do not

FRONTMATTER_FENCE = "---"
FRONTMATTER_ENDS = ("---", "...")
# What may follow a fence on its line: the editor agrees, so a packet that loads can be decided
# (str.rstrip() would also take a no-break space, which the editor does not).
FENCE_TRAILER = " \t\r"
# Keys written by the tool; everything else is the content a reviewer sees.
MANAGED_KEYS = frozenset({"status", "createdAt", "dueBy", "decision", "history", "outcome",
                          "escalatedTo", "resolution", "replaces", "replacedBy"})
JSON_BODY_KEY = "body"  # a JSON packet's Markdown narrative
# open -> decided | returned | withdrawn, then closed; an exception: open -> resolved.
STATUSES = ("open", "decided", "returned", "withdrawn", "closed", "resolved")
# A runId names its file, so it is a safe file name; the packet schema has the same pattern.
# It ends with `(?![\s\S])` (end of text, like `\Z`), not `$`: Python's `$` also matches before a
# trailing newline ("x\n" is not a runId), and `\Z` is not valid in JSON Schema's ECMA regexes.
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(?![\s\S])")
MAX_NODES = 100_000


@dataclass(eq=False)  # not frozen: raising sets __traceback__ and __cause__
class LoadFailure(Exception):
    """Why a file could not be loaded as a packet: a lint rule code, a message and a place."""

    code: str
    message: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return self.message


@dataclass
class Packet:
    """A loaded packet: its data, its body (Markdown form) and where its keys are in the text."""

    path: Path
    kind: str  # "md" or "json"
    text: str  # the decoded file text, BOM included if present
    data: dict[str, Any]
    body: str = ""
    yaml_offset: int = 0  # str offset of the frontmatter YAML in `text`
    yaml_line: int = 0  # lines before the frontmatter YAML
    yaml_end: int = 0  # str offset just past the frontmatter YAML
    _spans: dict[tuple[str | int, ...], Any] | None = field(default=None, repr=False)

    @property
    def run_id(self) -> str | None:
        value = self.data.get("runId")
        return value if isinstance(value, str) else None

    @property
    def status(self) -> str:
        return status_of(self.data)

    @property
    def body_line(self) -> int:
        """The 1-based line where the Markdown body starts."""
        return self.text.count("\n", 0, len(self.text) - len(self.body)) + 1

    def spans(self) -> dict[tuple[str | int, ...], Any]:
        """Positions of every key and item (computed once, on demand)."""
        if self._spans is None:
            from .positions import json_spans, yaml_spans

            try:
                if self.kind == "json":
                    self._spans = json_spans(self.text)
                else:
                    yaml_text = self.text[self.yaml_offset : self.yaml_end]
                    self._spans = yaml_spans(yaml_text, self.yaml_offset, self.yaml_line)
            except Exception:  # a position is a nicety; fall back to the top of the packet
                self._spans = {}
        return self._spans

    def position(self, keypath: tuple[str | int, ...]) -> tuple[int, int]:
        """(line, column) of a key path, or of its deepest existing ancestor."""
        spans = self.spans()
        for depth in range(len(keypath), 0, -1):
            span = spans.get(tuple(keypath[:depth]))
            if span is not None:
                return span.line, span.column
        return (self.yaml_line + 1 if self.kind == "md" else 1), 1


def read_packet_text(path: Path, max_bytes: int, root: str | None = None) -> str:
    """Read and decode a packet file within a size bound; raise LoadFailure for bad bytes.

    Only regular files are opened (a FIFO, a device or a socket is refused without opening it,
    so that no command blocks), and with `root` a symlink leading outside it is never read.
    """
    raw = _read_regular(path, max_bytes, root)
    if len(raw) > max_bytes:
        raise LoadFailure("H103", f"file is larger than the {max_bytes}-byte limit")
    if not raw.strip():
        raise LoadFailure("H105", "file is empty")
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise LoadFailure("H104", "file is binary (contains NUL bytes)", raw[:nul].count(b"\n") + 1)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise LoadFailure("H102", f"file is not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
                          line, column) from None


def _read_regular(path: Path, max_bytes: int, root: str | None) -> bytes:
    """At most max_bytes + 1 bytes of a regular file, opened without blocking."""
    import os
    import stat

    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            if root is not None:
                real = os.path.realpath(path)
                if real != root and not real.startswith(root + os.sep):
                    raise LoadFailure("H101", "is a symlink leading outside the workspace; "
                                      "it is never read")
            info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise LoadFailure("H101", f"is {_file_kind(info.st_mode)}, not a packet file")
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except LoadFailure:
        raise
    except OSError as exc:
        raise LoadFailure("H101", f"cannot read file: {exc.strerror or exc}") from None
    except ValueError as exc:  # e.g. a NUL in a path given on the command line
        raise LoadFailure("H101", f"cannot read file: {exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between stat and open
            raise LoadFailure("H101", "is not a regular file, not a packet file")
        chunks: list[bytes] = []
        left = max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise LoadFailure("H101", f"cannot read file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _file_kind(mode: int) -> str:
    import stat

    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def load_packet(path: Path, max_bytes: int = 1 << 20, root: str | None = None) -> Packet:
    """Load a .md or .json packet; raise LoadFailure naming the rule, line and column (with
    `root`, the real workspace root, a symlink leading outside it is refused unread)."""
    text = read_packet_text(path, max_bytes, root)
    if path.suffix.lower() == ".json":
        data = parse_json_object(text)
        return Packet(path=path, kind="json", text=text, data=data, body=json_body(data))
    return parse_markdown(path, text)


def json_body(data: Mapping[str, Any]) -> str:
    """A JSON packet's narrative: its "body" text (a Markdown packet's body after the
    frontmatter), so that both forms of one packet show and digest the same."""
    body = data.get(JSON_BODY_KEY)
    return body if isinstance(body, str) else ""


def parse_json_object(text: str) -> dict[str, Any]:
    """Parse a JSON packet object, refusing duplicate keys and non-standard constants."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise ValueError(f"duplicate key '{key}'")
            result[key] = value
        return result

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    def finite(text: str) -> float:
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise ValueError(f"number {text[:40]} is out of range")
        return value

    body = text.removeprefix("\ufeff")
    shift = len(text) - len(body)
    try:
        data = json.loads(body, object_pairs_hook=no_duplicates, parse_constant=no_constant,
                          parse_float=finite)
    except json.JSONDecodeError as exc:
        message, line, column = json_error_position(body, exc)
        raise LoadFailure("H109", f"JSON syntax error: {message}", line,
                          column + (shift if line == 1 else 0)) from None
    except ValueError as exc:
        raise LoadFailure("H109", f"JSON error: {_value_problem(exc)}") from None
    except RecursionError:
        raise LoadFailure("H109", "JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise LoadFailure("H110", f"a packet must be a JSON object, not {_kind_of(data)}")
    if "\\u" in body:  # only an escape can make a lone surrogate
        check_encodable(data)
    return data


def json_error_position(text: str, exc: json.JSONDecodeError) -> tuple[str, int, int]:
    """The message, line and column of a JSON syntax error, the same on every Python.

    Python 3.13 reports a trailing comma at the comma ("Illegal trailing comma"), older
    versions at the closing bracket after it ("Expecting property name" or "Expecting
    value"); both are told here as the comma's own position, so findings do not depend on
    the interpreter.
    """
    position = exc.pos
    comma = -1
    if position < len(text) and text[position] == ",":
        comma = position
    elif position < len(text) and text[position] in "}]":
        before = position - 1
        while before >= 0 and text[before] in " \t\r\n":
            before -= 1
        if before >= 0 and text[before] == ",":
            comma = before
    if comma >= 0:
        after = comma + 1
        while after < len(text) and text[after] in " \t\r\n":
            after += 1
        if after < len(text) and text[after] in "}]":
            kind = "object" if text[after] == "}" else "array"
            line = text.count("\n", 0, comma) + 1
            column = comma - (text.rfind("\n", 0, comma) + 1) + 1
            return f"trailing comma before the end of the {kind}", line, column
    return exc.msg, exc.lineno, exc.colno


def check_encodable(data: Any) -> None:
    """Refuse strings that are not text (lone surrogates from valid JSON escapes like \\ud800):
    they could be neither shown nor written back."""
    stack: list[Any] = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            node = [node]
        elif isinstance(node, dict):
            stack.extend(node.values())
            node = list(node)
        elif isinstance(node, list):
            stack.extend(node)
            continue
        else:
            continue
        for text in node:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise LoadFailure("H109", f"JSON string has a lone surrogate escape "
                                  f"(\\u{ord(text[exc.start]):04x}); it is not text") from None


def _value_problem(exc: Exception) -> str:
    message = str(exc)
    if "integer string conversion" in message:
        return "a number has too many digits"
    return message


def split_frontmatter(text: str) -> tuple[int, int, int, int]:
    """Locate the frontmatter: (yaml_start, yaml_end, body_start, yaml_line) offsets/lines."""
    start = 1 if text.startswith("\ufeff") else 0
    first_end = text.find("\n", start)
    first = text[start : first_end if first_end >= 0 else len(text)]
    if first.rstrip(FENCE_TRAILER) != FRONTMATTER_FENCE:
        raise LoadFailure("H106", "missing frontmatter: a packet must start with a '---' line")
    if first_end < 0:
        raise LoadFailure("H107", "unterminated frontmatter: no closing '---' line")
    yaml_start = first_end + 1
    closing = _CLOSING_FENCE.search(text, yaml_start)
    if closing is None:
        raise LoadFailure("H107", "unterminated frontmatter: no closing '---' line", 1, 1)
    stop = closing.end()
    return yaml_start, closing.start(), (stop + 1 if stop < len(text) else stop), 1


# The first line after the opening fence that is only a closing fence and FENCE_TRAILER.
_CLOSING_FENCE = re.compile(r"^(?:---|\.\.\.)[ \t\r]*$", re.MULTILINE)


def parse_markdown(path: Path, text: str) -> Packet:
    """Parse a Markdown packet's frontmatter safely."""
    yaml_start, yaml_end, body_start, yaml_line = split_frontmatter(text)
    data = parse_yaml_mapping(text[yaml_start:yaml_end], yaml_line)
    return Packet(path=path, kind="md", text=text, data=data, body=text[body_start:],
                  yaml_offset=yaml_start, yaml_line=yaml_line, yaml_end=yaml_end)


MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKey(yaml.constructor.ConstructorError):
    """A YAML mapping repeats a key."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(None, None, problem, mark)


@lru_cache(maxsize=1)
def packet_loader() -> Any:
    """A safe YAML loader that keeps timestamps as the strings they were written as and refuses
    duplicate keys (a reviewer reading the file sees the first; YAML would keep the last)."""
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class PacketLoader(base):  # type: ignore[valid-type,misc]
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[str] = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != MERGE_TAG:
                    if key_node.value in seen:
                        raise DuplicateKey(f"duplicate key '{key_node.value}'",
                                           key_node.start_mark)
                    seen.add(key_node.value)
            return super().construct_mapping(node, deep=deep)

        def construct_document(self, node: Any) -> Any:
            # The common packet (plain maps, lists, strings, numbers) is built in one direct
            # pass; anything else, and every error, takes PyYAML's own path, so results and
            # messages are the same either way (a test compares both on the corpus).
            try:
                data = _plain_document(self, node)
            except _Unusual:
                self.constructed_objects.clear()
                return super().construct_document(node)
            self.constructed_objects.clear()
            return data

    PacketLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in base.yaml_implicit_resolvers.items()
    }
    return PacketLoader


@lru_cache(maxsize=1)
def plain_reader() -> Any:
    """The direct reader for plain block frontmatter (plainyaml.py), with the packet loader's
    resolvers; PyYAML reads everything else."""
    from .plainyaml import PlainReader

    return PlainReader(packet_loader())


class _Unusual(Exception):
    """A node the direct builder leaves to PyYAML's constructor."""


_STR, _MAP, _SEQ = ("tag:yaml.org,2002:str", "tag:yaml.org,2002:map",
                    "tag:yaml.org,2002:seq")
_SIMPLE_SCALARS = frozenset({"tag:yaml.org,2002:null", "tag:yaml.org,2002:bool",
                             "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"})


def _plain_document(loader: Any, root: Any) -> Any:
    """Build a document of plain maps, lists and scalars as SafeConstructor would; raise
    _Unusual for any other node, a merge key, a repeated key or a recursive alias."""
    scalar_node, mapping_node, sequence_node = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode
    built: dict[int, Any] = {}  # an alias yields the same object, as PyYAML's does
    building: set[int] = set()

    def build(node: Any) -> Any:
        key = id(node)
        if key in built:
            return built[key]
        kind, tag = node.__class__, node.tag
        if kind is scalar_node:
            if tag == _STR:
                value: Any = node.value
            elif tag in _SIMPLE_SCALARS:
                value = loader.construct_object(node)
            else:
                raise _Unusual
        elif key in building:
            raise _Unusual
        elif kind is mapping_node and tag == _MAP:
            building.add(key)
            value = {}
            seen: set[str] = set()
            for key_node, value_node in node.value:
                if key_node.__class__ is not scalar_node or key_node.value in seen:
                    raise _Unusual
                seen.add(key_node.value)
                value[build(key_node)] = build(value_node)
            building.discard(key)
        elif kind is sequence_node and tag == _SEQ:
            building.add(key)
            value = [build(item) for item in node.value]
            building.discard(key)
        else:
            raise _Unusual
        built[key] = value
        return value

    return build(root)


def parse_yaml_mapping(yaml_text: str, line_offset: int) -> dict[str, Any]:
    """safe-load frontmatter YAML into a mapping; every failure becomes a LoadFailure."""
    try:
        data = plain_reader().read(yaml_text)
        if data is not None and len(yaml_text) * 2 <= MAX_NODES:
            # Built fresh from lines (no shared nodes, text keys), at most two values per
            # character: check_tree could find nothing.
            return data  # type: ignore[no-any-return]
        if data is None:
            data = yaml.load(yaml_text, Loader=packet_loader())
    except yaml.constructor.ConstructorError as exc:
        line, column = _mark_position(exc, line_offset)
        problem = exc.problem or "cannot construct value"
        if isinstance(exc, DuplicateKey):
            raise LoadFailure("H108", f"YAML error: {problem}", line, column) from None
        tag = re.search(r"tag '([^']*)'", problem)
        if tag is None:  # e.g. a list or mapping used as a key
            raise LoadFailure("H110", f"YAML error: {problem}", line, column) from None
        shown = tag.group(1).replace("tag:yaml.org,2002:", "!!")
        raise LoadFailure("H111", f"YAML tag '{shown}' is refused (never executed)",
                          line, column) from None
    except yaml.MarkedYAMLError as exc:
        line, column = _mark_position(exc, line_offset)
        raise LoadFailure("H108", f"YAML syntax error: {exc.problem or exc.context}",
                          line, column) from None
    except yaml.YAMLError as exc:
        raise LoadFailure("H108", f"YAML error: {exc}", line_offset + 1) from None
    except (ValueError, OverflowError) as exc:  # e.g. an integer of more than 4300 digits
        raise LoadFailure("H108", f"YAML value cannot be read: {_value_problem(exc)}",
                          line_offset + 1) from None
    except RecursionError:
        raise LoadFailure("H108", "YAML is nested too deeply", line_offset + 1) from None
    if data is None:
        raise LoadFailure("H110", "frontmatter is empty", line_offset + 1)
    if not isinstance(data, dict):
        raise LoadFailure("H110", f"frontmatter must be a mapping of keys, not {_kind_of(data)}",
                          line_offset + 1)
    check_tree(data, line_offset + 1)
    return data


def check_tree(data: dict[str, Any], line: int) -> None:
    """Refuse shared nodes (YAML anchors/aliases, the alias-bomb vector), non-string keys and
    oversized trees, in one bounded pass."""
    seen: set[int] = set()
    stack: list[Any] = [data]
    count = 0
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise LoadFailure("H112", f"packet has more than {MAX_NODES} values", line)
        if isinstance(node, (dict, list)):
            if id(node) in seen:
                raise LoadFailure("H112", "YAML anchors and aliases are not allowed in packets",
                                  line)
            seen.add(id(node))
            if isinstance(node, dict):
                for key, value in node.items():
                    if not isinstance(key, str):
                        raise LoadFailure("H110", f"key {key!r} is not a string", line)
                    stack.append(value)
            else:
                stack.extend(node)


def _mark_position(exc: Any, line_offset: int) -> tuple[int, int]:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return line_offset + 1, 1
    return mark.line + 1 + line_offset, mark.column + 1


def _kind_of(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def content_digest(packet: Packet) -> str:
    """sha256 of what a reviewer sees: every unmanaged key plus the Markdown body."""
    content = {key: value for key, value in packet.data.items() if key not in MANAGED_KEYS
               and not (packet.kind == "json" and key == JSON_BODY_KEY and isinstance(value, str))}
    body = packet.body.replace("\r\n", "\n").strip()
    payload = json.dumps({"packet": content, "body": body}, sort_keys=True, ensure_ascii=False,
                         separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()


def status_of(data: Mapping[str, Any]) -> str:
    """A packet's status; a packet that does not say is open."""
    value = data.get("status")
    return value if isinstance(value, str) else "open"


def is_overdue(data: Mapping[str, Any], now: datetime) -> bool:
    """An open packet past its dueBy."""
    from .timeutil import parse_iso

    due = parse_iso(data.get("dueBy"))
    return status_of(data) == "open" and due is not None and due < now


def evidence_entries(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, path-or-url) pairs of a packet's evidence, whatever form each entry takes."""
    evidence = data.get("evidence")
    if not isinstance(evidence, dict):
        return []
    entries = []
    for name, value in evidence.items():
        if isinstance(value, dict):
            value = value.get("path")
        if isinstance(value, str):
            entries.append((name, value))
    return entries


def option_labels(data: dict[str, Any]) -> list[str]:
    """The labels of a packet's options, in order."""
    options = data.get("options")
    if not isinstance(options, list):
        return []
    return [o["label"] for o in options if isinstance(o, dict) and isinstance(o.get("label"), str)]
