"""`handoff convert`: rewrite a packet from Markdown to JSON or back, keeping every key, the
body (a JSON packet's "body" text) and the history, so that the result lints the same.

The new file is written next to the old one as <runId>.<ext> (never over an existing file),
checked by loading it back, and only then is the original removed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConflictError, PacketError, UsageError
from .packet import JSON_BODY_KEY, RUN_ID, LoadFailure, Packet, load_packet, parse_json_object
from .workspace import Workspace, resolve_packet_path

FORMS = ("md", "json")


@dataclass(frozen=True)
class Converted:
    """Where the packet was and where its converted form is now."""

    source: Path
    target: Path
    kept: bool

    def as_dict(self) -> dict[str, object]:
        return {"from": str(self.source), "to": str(self.target), "kept": self.kept}


def convert_packet(workspace: Workspace, ref: str, to: str, *, keep: bool = False) -> Converted:
    """Write the packet named by `ref` in the form `to` (md or json) beside it as
    <runId>.<to>; remove the original unless `keep`. Errors name the packet relative to the
    workspace."""
    from .errors import HandoffError

    try:
        return _convert(workspace, ref, to, keep)
    except HandoffError as exc:
        if isinstance(exc.path, Path):
            exc.path = workspace.relative(exc.path)
        raise


def _convert(workspace: Workspace, ref: str, to: str, keep: bool) -> Converted:
    from .store import create_new, lock_key, packet_lock

    if to not in FORMS:
        raise UsageError(f"--to must be md or json; got '{to}'")
    path = resolve_packet_path(workspace, ref)
    packet = _load(workspace, path)
    if packet.kind == to:
        raise UsageError(f"it is already a .{to} packet", workspace.relative(path))
    _refuse_conflict(packet)
    target = path.with_name(f"{_file_stem(packet)}.{to}")
    with packet_lock(workspace.state_dir, lock_key(packet.run_id, packet.path)):
        fresh = _load(workspace, path)
        if fresh.text != packet.text:
            raise ConflictError("changed while converting; try again", workspace.relative(path))
        text = converted_text(fresh, to)
        create_new(target, text, workspace.state_dir,  # ConflictError rather than overwrite
                   workspace.relative(target))
        if not keep:
            path.unlink()
    return Converted(path, target, keep)


def converted_text(packet: Packet, to: str) -> str:
    """The packet's text in the other form, checked to load back to the same keys and body."""
    data = dict(packet.data)
    body = packet.body
    if to == "json":
        if body.strip():
            if JSON_BODY_KEY in data:
                raise PacketError(f"its body cannot move into the '{JSON_BODY_KEY}' key: the "
                                  "packet already has one", packet.path)
            data[JSON_BODY_KEY] = body
        text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    else:
        body = data.pop(JSON_BODY_KEY) if isinstance(data.get(JSON_BODY_KEY), str) else ""
        text = "---\n" + _yaml(data) + "---\n" + body
    _check_same(packet, text, to)
    return text


def _yaml(data: dict[str, Any]) -> str:
    import yaml

    if not data:
        return ""
    dumped: str = yaml.safe_dump(data, sort_keys=False, allow_unicode=True,
                                 default_flow_style=False, width=1 << 30)
    return dumped


def _check_same(packet: Packet, text: str, to: str) -> None:
    """Load the converted text back; refuse (never lose data) unless keys and body match."""
    from .packet import parse_markdown

    try:
        if to == "json":
            data = parse_json_object(text)
            again = Packet(path=packet.path.with_suffix(".json"), kind="json", text=text,
                           data=data, body=data.get(JSON_BODY_KEY, "") if isinstance(
                               data.get(JSON_BODY_KEY), str) else "")
        else:
            again = parse_markdown(packet.path.with_suffix(".md"), text)
    except LoadFailure as failure:
        raise PacketError(f"cannot convert it to {to}: {failure.message}", packet.path) from None
    before = {k: v for k, v in packet.data.items() if not _is_body_key(packet, k)}
    after = {k: v for k, v in again.data.items() if not _is_body_key(again, k)}
    if before != after or _norm(packet.body) != _norm(again.body):
        raise PacketError(f"cannot convert it to {to} without changing it", packet.path)


def _is_body_key(packet: Packet, key: str) -> bool:
    return packet.kind == "json" and key == JSON_BODY_KEY and isinstance(packet.data[key], str)


def _norm(body: str) -> str:
    return body.replace("\r\n", "\n").strip()


def _refuse_conflict(packet: Packet) -> None:
    """An unresolved merge (H113) is resolved first: inside a JSON string its markers would
    no longer be seen."""
    from .lint.rules import conflict_marker_issues

    found = conflict_marker_issues(packet.text)
    if found:
        raise PacketError("it has git conflict markers (H113): resolve the merge first",
                          packet.path, found[0].line)


def _file_stem(packet: Packet) -> str:
    run_id = packet.run_id
    return run_id if run_id is not None and RUN_ID.match(run_id) else packet.path.stem


def _load(workspace: Workspace, path: Path) -> Packet:
    try:
        return load_packet(path, workspace.settings.max_file_bytes)
    except LoadFailure as failure:
        raise PacketError(f"{failure.code} {failure.message}", path, failure.line) from None
