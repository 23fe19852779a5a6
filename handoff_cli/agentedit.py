"""An agent's safe edit of its own packet: under the packet's lock, checked against what was read,
written atomically; the keys handoff manages (and a decided packet) stay out of the agent's reach.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .errors import ConflictError, PacketError, UsageError
from .packet import MANAGED_KEYS, LoadFailure, Packet
from .timeutil import iso, now_utc
from .workspace import Workspace

if TYPE_CHECKING:
    from .api import PacketInput

# An agent edits a packet that still waits for a person. Once decided, returned, withdrawn,
# closed or resolved it is a record (a return is answered by resubmit, which re-queues it).
EDITABLE = frozenset({"open"})
# Who the packet is and whom it goes to are not the agent's to change by an edit either: the
# runId names the file and the lock, the type picks the runbook's rules, the runbook the owner.
FIXED_KEYS = frozenset({"runId", "handoffType", "ownerRole"})
_ABSENT = object()

Change = Callable[[Packet], "str | Mapping[str, Any] | None"]


@dataclass(frozen=True)
class Edited:
    """What `edit_packet` wrote: the top-level keys it changed, whether the narrative changed,
    and the history event (None, and nothing written, when the edit changed nothing)."""

    path: Path
    run_id: str
    keys: tuple[str, ...]
    body: bool
    event: Mapping[str, Any] | None

    @property
    def changed(self) -> bool:
        """Whether anything was written."""
        return self.event is not None


def edit_packet(workspace: Workspace, ref: str | Path, change: Change,
                identity: str | None = None, now: datetime | None = None, *,
                timeout: float = 10.0) -> Edited:
    """Edit a packet safely while a person may be deciding it.

    Holding the packet's lock, `change` gets the packet as it is now (`text`, `data`, `body`,
    `kind`) and returns the new whole text, or a mapping of top-level keys to set (byte-
    preserving the rest), or None for no change. The new text must load as a packet and keep
    every key handoff manages (status, decision, history, ...) and runId, handoffType and
    ownerRole as they were (UsageError, nothing written); only an open packet is edited
    (ConflictError, exit 3; a returned one is answered with `resubmit`). An "edited" event
    naming the keys goes into its history, and it is written atomically only if the file still
    holds what `change` was given: a writer that did not take the lock is never overwritten
    (ConflictError "changed while deciding").
    """
    from .decisions import _history, check_in_queue, check_status, locked

    with locked(workspace, ref, timeout) as packet:
        shown = workspace.relative(packet.path)
        check_in_queue(workspace, packet)
        if packet.status == "returned":
            raise ConflictError("was returned to the agent: supply what is missing with "
                                "'handoff resubmit' (it sets keys, evidence and the body, and "
                                "puts the packet back in the queue); nothing written", shown)
        check_status(workspace, packet, EDITABLE, "edit")
        before = packet.text
        run_id = packet.run_id or packet.path.stem
        result = change(packet)
        if result is None:
            return Edited(packet.path, run_id, (), False, None)
        text = _new_text(packet, before, result, shown)
        fresh = _parsed(workspace, packet, text, shown)
        keys = _changed_keys(packet.data, fresh.data, shown)
        body = fresh.body != packet.body and "body" not in keys
        if not keys and not body and text == before:
            return Edited(packet.path, run_id, (), False, None)
        event: dict[str, Any] = {"event": "edited", "at": iso(now or now_utc()),
                                 "by": identity or "agent", "keys": list(keys)}
        if body:
            event["body"] = True
        updates: dict[str, Any] = {"history": _history(fresh, event)}
        routing = workspace.runbook.routing_for(str(fresh.data.get("handoffType", "")),
                                                fresh.data)
        if routing is not None and fresh.data.get("ownerRole") != routing.owner:
            updates["ownerRole"] = event["ownerRole"] = routing.owner  # the runbook's, as route
            updates["history"] = _history(fresh, event)
        text = _set(fresh, text, updates, shown)
        _check_size(workspace, text, shown)
        from .store import lock_key, replace_file

        replace_file(workspace.state_dir, packet.path, lock_key(packet.run_id, packet.path),
                     text, expected=before, shown=shown,
                     limit=workspace.settings.max_file_bytes)
    return Edited(packet.path, run_id, keys, body, event)


def _new_text(packet: Packet, before: str, result: object, shown: str) -> str:
    if isinstance(result, str):
        return result
    if isinstance(result, Mapping):
        return _set(packet, before, dict(result), shown)
    raise UsageError(f"an edit must return the new text, a mapping of keys to set, or None; "
                     f"got {type(result).__name__}", shown)


def _set(packet: Packet, text: str, updates: Mapping[str, Any], shown: str) -> str:
    from .editing import EditError, set_keys

    try:
        return set_keys(text, "json" if packet.kind == "json" else "md", dict(updates))
    except EditError as exc:
        raise PacketError(f"cannot edit safely: {exc}; nothing written", shown) from None


def _parsed(workspace: Workspace, packet: Packet, text: str, shown: str) -> Packet:
    """The edited text as a packet; an edit that would leave a file no command can open (or
    one over the size bound) is refused."""
    from .packet import json_body, parse_json_object, parse_markdown

    _check_size(workspace, text, shown)
    if "\x00" in text:
        raise UsageError("the edit contains a NUL byte; a packet must be text; nothing written",
                         shown)
    try:
        if packet.kind == "json":
            data = parse_json_object(text)
            return Packet(packet.path, "json", text, data, json_body(data))
        return parse_markdown(packet.path, text)
    except LoadFailure as failure:
        where = f" (line {failure.line})" if failure.line else ""
        raise PacketError(f"the edit does not make a valid packet{where}: {failure.code} "
                          f"{failure.message}; nothing written", shown) from None


def _check_size(workspace: Workspace, text: str, shown: str) -> None:
    bound = workspace.settings.max_file_bytes
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > bound:
        raise UsageError(f"the edited packet would be {size} bytes, over lint.maxFileBytes "
                         f"({bound}); nothing written", shown)


def _changed_keys(old: Mapping[str, Any], new: Mapping[str, Any], shown: str) -> tuple[str, ...]:
    """The top-level keys an edit adds, removes or changes; refuses managed and fixed keys."""
    keys = [k for k in dict.fromkeys([*old, *new])
            if old.get(k, _ABSENT) != new.get(k, _ABSENT)
            or type(old.get(k)) is not type(new.get(k))]
    refused = sorted(k for k in keys if k in MANAGED_KEYS or k in FIXED_KEYS)
    if refused:
        raise UsageError(f"{', '.join(repr(k) for k in refused)} "
                         f"{'is a key' if len(refused) == 1 else 'are keys'} that handoff or "
                         "the runbook manages; an edit may not change it; nothing written",
                         shown)
    return tuple(keys)


def update_packet(workspace: Workspace, ref: str | Path, given: PacketInput,
                  identity: str | None = None, now: datetime | None = None, *,
                  remove: Sequence[str] = (), timeout: float = 10.0) -> Edited:
    """`handoff edit`: set keys (a dotted KEY.SUB merges into a mapping), add or replace
    evidence, replace the options or the narrative, remove keys, all in one locked edit
    (edit_packet's checks apply)."""
    from .api import check_body, refuse_managed_keys

    heads = {key.partition(".")[0] for key in given.values} | set(remove)
    refuse_managed_keys({k: None for k in {*heads, *(given.from_json or {})}
                         if k in MANAGED_KEYS})
    fixed = sorted(k for k in heads if k in FIXED_KEYS)
    if fixed:  # from_json may repeat them unchanged: the check in edit_packet refuses a change
        raise UsageError(f"{', '.join(repr(k) for k in fixed)} cannot be changed by an edit")
    body = given.body
    if body is None and isinstance((given.from_json or {}).get("body"), str):
        body = str((given.from_json or {})["body"])
    check_body(body)

    def change(packet: Packet) -> str:
        from .lifecycle import supplied_updates

        updates = supplied_updates(packet, given, fixed=frozenset(), action="an edit")
        for key in remove:
            updates.pop(key, None)
        from .editing import EditError, set_keys

        kind: Literal["md", "json"] = "json" if packet.kind == "json" else "md"
        shown = workspace.relative(packet.path)
        try:
            text = set_keys(packet.text, kind, updates, list(remove)) if updates or remove \
                else packet.text
        except EditError as exc:
            raise PacketError(f"cannot edit safely: {exc}; nothing written", shown) from None
        if body is not None:
            from .lifecycle import _with_body

            text = _with_body(packet, text, body)
        return text

    return edit_packet(workspace, ref, change, identity, now, timeout=timeout)

