"""The rest of a packet's life: the agent withdraws it, resubmits it after a return (or files a
replacement), and an operator resolves an exception-queue item. Returns Recorded or raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .decisions import Recorded, _history, check_status, locked, recorded, write_keys
from .errors import PacketError, UsageError
from .packet import Packet
from .timeutil import iso, now_utc
from .workspace import Workspace, resolve_inside

if TYPE_CHECKING:
    from .api import NewPacket, PacketInput

WITHDRAWABLE = frozenset({"open", "returned"})
RESUBMITTABLE = frozenset({"returned"})
RESOLVABLE = frozenset({"open"})
RESOLUTION_KINDS = ("fixed", "retried", "abandoned")
_PLACEHOLDER = re.compile(r"^\$\{?[_A-Za-z]\w*\}?$")


def _in_exceptions(workspace: Workspace, path: Path) -> bool:
    try:
        path.resolve().relative_to(workspace.exceptions_dir.resolve())
    except (ValueError, OSError):
        return False
    return True


def _required(text: str | None, flag: str, what: str) -> str:
    if text is None or not text.strip():
        raise UsageError(f"{flag} must say {what}")
    return text.strip()


def withdraw(workspace: Workspace, ref: str | Path, reason: str, identity: str | None = None,
             now: datetime | None = None) -> Recorded:
    """The agent no longer needs a decision: an open or returned packet becomes 'withdrawn'."""
    reason = _required(reason, "--reason", "why the decision is no longer needed")
    with locked(workspace, ref) as packet:
        if _in_exceptions(workspace, packet.path):
            raise UsageError("is in the exception queue: settle it with 'handoff resolve "
                             "--kind abandoned --note TEXT'", workspace.relative(packet.path))
        check_status(workspace, packet, WITHDRAWABLE, "withdraw")
        event = {"event": "withdrawn", "at": iso(now or now_utc()), "by": identity or "agent",
                 "reason": reason}
        write_keys(workspace, packet, {"status": "withdrawn", "history": _history(packet, event)})
    return recorded(workspace, packet, "withdrawn", event)


def resolve(workspace: Workspace, ref: str | Path, kind: str, note: str,
            identity: str | None = None, now: datetime | None = None) -> Recorded:
    """Settle an exception-queue item: status 'resolved', with its kind (fixed, retried or
    abandoned), a note and who resolved it."""
    if kind not in RESOLUTION_KINDS:
        raise UsageError(f"--kind must be one of {', '.join(RESOLUTION_KINDS)}; got '{kind}'")
    note = _required(note, "--note", "what was done about the failure")
    with locked(workspace, ref) as packet:
        if not _in_exceptions(workspace, packet.path):
            raise UsageError(f"is not in the exception queue ({workspace.settings.exceptions}/); "
                             "a handoff is decided, returned or withdrawn instead",
                             workspace.relative(packet.path))
        check_status(workspace, packet, RESOLVABLE, "resolve")
        at = iso(now or now_utc())
        by = identity or "agent"
        resolution = {"kind": kind, "note": note, "by": by, "at": at}
        event = {"event": "resolved", **resolution}
        write_keys(workspace, packet, {"status": "resolved", "resolution": resolution,
                                       "history": _history(packet, event)})
    return recorded(workspace, packet, "resolved", event)


# -- after a return ---------------------------------------------------------------------------


def missing_of(packet: Packet) -> list[str]:
    """The fields the reviewer named missing when returning the packet."""
    decision = packet.data.get("decision")
    missing = decision.get("missing") if isinstance(decision, dict) else None
    return [str(m) for m in missing] if isinstance(missing, list) else []


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip() or bool(_PLACEHOLDER.match(value.strip()))
    if isinstance(value, (list, dict)):
        return not value
    return False


def still_missing(workspace: Workspace, data: Mapping[str, Any], fields: Sequence[str],
                  body: str = "") -> list[str]:
    """Which of `fields` are still missing or empty: a key (or dotted path) of the packet, an
    evidence entry (whose file must exist in the workspace), or `body` for the narrative."""
    from .packet import evidence_entries
    from .runbook import field_value

    evidence = dict(evidence_entries(dict(data)))
    left: list[str] = []
    for name in fields:
        key = name.strip()
        if key.removeprefix("evidence.") in evidence:
            value = evidence[key.removeprefix("evidence.")]
            if "://" in value:
                ok = bool(value.strip())
            else:
                real, _ = resolve_inside(workspace, value)
                ok = real is not None and real.is_file()
        elif key == "body" and "body" not in data:
            ok = bool(body.strip())
        else:
            found, value = field_value(data, key)
            ok = found and not _empty(value)
        if not ok:
            left.append(key)
    return left


def _refuse_missing(workspace: Workspace, path: Path, left: Sequence[str]) -> PacketError:
    return PacketError(f"still missing what the reviewer asked for: {', '.join(left)}; supply "
                       "it (--set KEY=VALUE, --evidence NAME=PATH, --body TEXT, or edit the file) "
                       "and resubmit; nothing recorded", workspace.relative(path))


def supplied_updates(packet: Packet, given: PacketInput, *,
                     fixed: frozenset[str] = frozenset({"handoffType", "runId"}),
                     action: str = "a resubmission") -> dict[str, Any]:
    """The keys a resubmission sets: the JSON's keys, then --set values (a dotted KEY.SUB merges
    into the mapping), evidence entries added to the packet's evidence, options replacing its
    options. The packet's identity (`fixed`) and managed keys are not the agent's: skipped in
    the JSON, refused as --set. `handoff edit` passes no fixed keys (it refuses them itself and
    checks that the JSON repeats them unchanged)."""
    from .packet import MANAGED_KEYS

    data = packet.data
    updates: dict[str, Any] = {}
    evidence: dict[str, Any] = {}
    for key, value in (given.from_json or {}).items():
        if key == "body" or key in fixed or key in MANAGED_KEYS:
            continue
        if key == "evidence" and isinstance(value, dict):
            evidence.update(value)
        else:
            updates[key] = value
    for key, value in given.values.items():
        head, _, tail = key.partition(".")
        if head in fixed or head in MANAGED_KEYS:
            raise UsageError(f"'{head}' cannot be changed by {action}")
        if tail:
            current = updates.get(head, data.get(head))
            updates[head] = {**(current if isinstance(current, dict) else {}), tail: value}
        else:
            updates[key] = value
    evidence.update(given.evidence)
    if evidence:
        current = updates.get("evidence", data.get("evidence"))
        updates["evidence"] = {**(current if isinstance(current, dict) else {}), **evidence}
    if given.options:
        updates["options"] = [dict(option) for option in given.options]
    return updates


def _body_of(given: PacketInput) -> str | None:
    if given.body is not None:
        return given.body
    body = (given.from_json or {}).get("body")
    return body if isinstance(body, str) else None


def resubmit(workspace: Workspace, ref: str | Path, given: PacketInput | None = None,
             identity: str | None = None, now: datetime | None = None) -> Recorded:
    """After a return: apply what the agent supplies, check the fields the reviewer named
    missing are there now, and put the packet back in the queue (status 'open', a fresh dueBy,
    the decision moved to history). Refused (exit 1, nothing written) while any is missing."""
    from .api import PacketInput
    from .editing import EditError, set_keys
    from .packet import parse_json_object, parse_markdown

    given = given or PacketInput()
    moment = now or now_utc()
    with locked(workspace, ref) as packet:
        check_status(workspace, packet, RESUBMITTABLE, "resubmit")
        shown = workspace.relative(packet.path)
        json_id = (given.from_json or {}).get("runId")
        if json_id is not None and json_id != packet.run_id:
            raise UsageError(f"the JSON is for runId '{json_id}', not '{packet.run_id}'", shown)
        missing = missing_of(packet)
        updates = supplied_updates(packet, given)
        body = _body_of(given)
        from .api import check_body

        check_body(body)
        text = packet.text
        try:
            if updates:
                text = set_keys(text, packet.kind, updates)  # type: ignore[arg-type]
            if body is not None:
                text = _with_body(packet, text, body)
            fresh = (parse_markdown(packet.path, text) if packet.kind == "md"
                     else Packet(packet.path, "json", text, parse_json_object(text)))
        except EditError as exc:
            raise PacketError(f"cannot apply the supplied values safely: {exc}", shown) from None
        except Exception as exc:  # a LoadFailure from a value that breaks the packet
            raise PacketError(f"the supplied values do not make a valid packet: {exc}",
                              shown) from None
        left = still_missing(workspace, fresh.data, missing, fresh.body)
        if left:
            raise _refuse_missing(workspace, packet.path, left)
        runbook = workspace.runbook
        type_name = str(fresh.data.get("handoffType", ""))
        handoff_type = runbook.types.get(type_name)
        routing = runbook.routing_for(type_name, fresh.data)
        decision = packet.data.get("decision")
        event: dict[str, Any] = {"event": "resubmitted", "at": iso(moment),
                                 "by": identity or "agent", "supplied": missing}
        if isinstance(decision, dict) and decision.get("by"):
            event["returnedBy"] = decision["by"]
        keys: dict[str, Any] = {"status": "open"}
        if handoff_type is not None:
            keys["dueBy"] = iso(moment + handoff_type.time_to_decide)
        if routing is not None and fresh.data.get("ownerRole") != routing.owner:
            keys["ownerRole"] = routing.owner
            event["ownerRole"] = routing.owner
        keys["history"] = _history(fresh, event)
        try:
            text = set_keys(text, packet.kind, keys, ["decision"])  # type: ignore[arg-type]
        except EditError as exc:
            raise PacketError(f"cannot record safely: {exc}", shown) from None
        from .api import check_size
        from .store import lock_key, replace_file

        check_size(text, workspace.settings.max_file_bytes, shown)
        replace_file(workspace.state_dir, packet.path, lock_key(packet.run_id, packet.path), text,
                     expected=packet.text, limit=workspace.settings.max_file_bytes,
                     shown=workspace.relative(packet.path))
    return recorded(workspace, packet, "open", event, hook_event="resubmitted")


def _with_body(packet: Packet, text: str, body: str) -> str:
    """The packet's text with its narrative replaced (a JSON packet keeps it under "body")."""
    if packet.kind == "json":
        from .editing import set_keys

        return set_keys(text, "json", {"body": body})
    from .packet import split_frontmatter

    _, _, body_start, _ = split_frontmatter(text)
    return text[:body_start] + body + ("" if not body or body.endswith("\n") else "\n")


def create_replacement(workspace: Workspace, replaces: str, type_name: str, given: PacketInput,
                       identity: str | None = None, now: datetime | None = None,
                       fmt: str | None = None, strict: bool = False) -> NewPacket:
    """`new --replaces RUNID`: a new packet for a returned one, checked for the fields the
    reviewer named missing, carrying its history; the old one is closed as replaced."""
    from .api import create_packet

    moment = now or now_utc()
    with locked(workspace, replaces) as old:
        check_status(workspace, old, RESUBMITTABLE, "replace")
        old_id = old.run_id or old.path.stem
        missing = missing_of(old)

        def vet(path: Path, text: str) -> None:
            from .packet import LoadFailure, parse_json_object, parse_markdown

            try:
                new = (parse_markdown(path, text) if path.suffix == ".md"
                       else Packet(path, "json", text, parse_json_object(text)))
            except LoadFailure:
                return  # --strict, or lint afterwards, reports a broken packet
            left = still_missing(workspace, new.data, missing, new.body)
            if left:
                raise _refuse_missing(workspace, old.path, left)

        history = old.data.get("history")
        carried = [e for e in history if isinstance(e, dict)] if isinstance(history, list) else []
        made = create_packet(workspace, type_name, given, identity, moment, fmt, strict,
                             extra_history=[*carried, {"event": "replaces", "at": iso(moment),
                                                       "runId": old_id}],
                             event="resubmitted", vet=vet, replaces=old_id)
        event = {"event": "replaced", "at": iso(moment), "by": identity or "agent",
                 "replacedBy": made.run_id}
        write_keys(workspace, old, {"status": "closed", "replacedBy": made.run_id,
                                    "outcome": f"replaced by {made.run_id}",
                                    "history": _history(old, event)})
    return replace(made, replaced=old.path)
