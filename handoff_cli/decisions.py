"""Recording decisions: who may decide, the option chosen, and the locked, byte-preserving write
of decide, return and close. Returns frozen dataclasses or raises HandoffError.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import ConflictError, NotAllowedError, PacketError, UsageError
from .packet import Packet, content_digest
from .review import (
    CLOSABLE,
    DECIDABLE,
    OptionRow,
    ReviewView,
    _text,
    load,
    option_rows,
    reload,
    view_of,
)
from .timeutil import iso, now_utc
from .workspace import Workspace


@dataclass(frozen=True)
class Recorded:
    """What decide, return_packet or close wrote."""

    path: Path
    run_id: str
    status: str
    event: Mapping[str, Any]



# -- checks -------------------------------------------------------------------------------------


def choose_option(options: Sequence[OptionRow], choice: str) -> OptionRow:
    """The option a reviewer named: its exact label, its label ignoring case, or its number."""
    wanted = choice.strip()
    tests: tuple[Callable[[OptionRow], bool], ...] = (
        lambda o: o.label == wanted,
        lambda o: o.label.strip().casefold() == wanted.casefold(),
        lambda o: wanted.isdigit() and o.number == int(wanted),
    )
    for matches in tests:
        found = [option for option in options if matches(option)]
        if len(found) == 1:
            return found[0]
    labels = ", ".join(f"{o.number}. '{o.label}'" for o in options) or "none"
    raise UsageError(f"'{choice}' is not one of the packet's options: {labels}")


def check_status(workspace: Workspace, packet: Packet, allowed: frozenset[str],
                 action: str) -> None:
    """Refuse (exit 3) an action the packet's current status does not allow."""
    status = packet.status
    shown = workspace.relative(packet.path)
    if status in allowed:
        return
    decision = packet.data.get("decision")
    who = ""
    if isinstance(decision, dict) and decision.get("by"):
        who = f" by {decision.get('by')} at {decision.get('at')}"
    if status == "decided":
        raise ConflictError(f"already decided{who}; nothing recorded", shown)
    raise ConflictError(f"cannot {action} a packet whose status is '{status}'{who}", shown)


def check_member(workspace: Workspace, packet: Packet, identity: str | None) -> str:
    """The reviewer's identity, if it may decide for the packet's owner role (else exit 4)."""
    runbook = workspace.runbook
    owner = _text(packet.data, "ownerRole")
    shown = workspace.relative(packet.path)
    role = runbook.roles.get(owner)
    if role is None:
        raise NotAllowedError(f"ownerRole '{owner}' is not a role in the runbook; "
                              "run 'handoff route' to repair it", shown)
    if not identity:
        if role.members:
            raise NotAllowedError(f"only members of '{owner}' may decide, and no identity is "
                                  "set: pass --as EMAIL or set HANDOFF_USER", shown)
        raise UsageError("who is deciding? pass --as EMAIL, set HANDOFF_USER or "
                         "git config user.email")
    if not runbook.is_member(owner, identity):
        raise NotAllowedError(f"'{identity}' is not a member of '{owner}' (members: "
                              f"{', '.join(role.members)}); nothing recorded", shown)
    return identity


def check_can_decide(workspace: Workspace, ref: str | Path, identity: str | None) -> ReviewView:
    """Before prompting: the packet is open and the reviewer may decide it; its view."""
    packet = load(workspace, ref)
    check_status(workspace, packet, DECIDABLE, "decide")
    check_member(workspace, packet, identity)
    return view_of(workspace, packet)


# -- writing ------------------------------------------------------------------------------------


@contextlib.contextmanager
def locked(workspace: Workspace, ref: str | Path, timeout: float = 10.0) -> Iterator[Packet]:
    """Hold the packet's lock and yield it freshly read under the lock."""
    from .store import lock_key, packet_lock

    first = load(workspace, ref)
    with packet_lock(workspace.state_dir, lock_key(first.run_id, first.path), timeout):
        yield reload(workspace, first.path)


def write_keys(workspace: Workspace, packet: Packet, updates: Mapping[str, Any]) -> None:
    """Set managed keys in the packet's text, byte-preserving everything else, and replace it."""
    from .editing import EditError, set_keys

    try:
        text = set_keys(packet.text, "json" if packet.kind == "json" else "md", dict(updates))
    except EditError as exc:
        raise PacketError(f"cannot record safely: {exc}",
                          workspace.relative(packet.path)) from None
    from .store import lock_key, replace_file

    replace_file(workspace.state_dir, packet.path, lock_key(packet.run_id, packet.path), text)


def _history(packet: Packet, event: Mapping[str, Any]) -> list[Any]:
    history = packet.data.get("history")
    return [*(history if isinstance(history, list) else []), dict(event)]


def _check_seen(workspace: Workspace, packet: Packet, seen_digest: str | None) -> str:
    digest = content_digest(packet)
    if seen_digest is not None and seen_digest != digest:
        raise ConflictError("the packet changed while deciding (its content is not what was "
                            "shown); nothing recorded: review it again",
                            workspace.relative(packet.path))
    return digest


def decide(workspace: Workspace, ref: str | Path, option: str, note: str | None = None,
           identity: str | None = None, seen_digest: str | None = None,
           now: datetime | None = None) -> Recorded:
    """Record the owner's decision: status 'decided', `decision` and a history event.

    `seen_digest` is the digest of the view the reviewer saw; a packet whose content changed
    since is refused (ConflictError), as is one already decided.
    """
    with locked(workspace, ref) as packet:
        check_status(workspace, packet, DECIDABLE, "decide")
        by = check_member(workspace, packet, identity)
        chosen = choose_option(option_rows(packet.data), option)
        digest = _check_seen(workspace, packet, seen_digest)
        at = iso(now or now_utc())
        note = note.strip() if note and note.strip() else None
        decision = {"option": chosen.label, "by": by, "at": at, "note": note, "digest": digest}
        event = {"event": "decided", "at": at, "by": by, "option": chosen.label}
        if note:
            event["note"] = note
        write_keys(workspace, packet, {"status": "decided", "decision": decision,
                                       "history": _history(packet, event)})
    return Recorded(packet.path, packet.run_id or packet.path.stem, "decided", event)


def return_packet(workspace: Workspace, ref: str | Path, missing: Sequence[str],
                  note: str | None = None, identity: str | None = None,
                  seen_digest: str | None = None, now: datetime | None = None) -> Recorded:
    """Send the packet back to the agent (status 'returned'), naming what is missing."""
    fields = [m.strip() for m in missing if m and m.strip()]
    if not fields:
        raise UsageError("a return must name what is missing: --missing FIELD")
    with locked(workspace, ref) as packet:
        check_status(workspace, packet, DECIDABLE, "return")
        by = check_member(workspace, packet, identity)
        digest = _check_seen(workspace, packet, seen_digest)
        at = iso(now or now_utc())
        note = note.strip() if note and note.strip() else None
        decision = {"option": None, "by": by, "at": at, "note": note, "digest": digest,
                    "missing": fields}
        event: dict[str, Any] = {"event": "returned", "at": at, "by": by, "missing": fields}
        if note:
            event["note"] = note
        write_keys(workspace, packet, {"status": "returned", "decision": decision,
                                       "history": _history(packet, event)})
    return Recorded(packet.path, packet.run_id or packet.path.stem, "returned", event)


def close(workspace: Workspace, ref: str | Path, outcome: str, identity: str | None = None,
          now: datetime | None = None) -> Recorded:
    """The agent resumed: status 'closed', an `outcome` and a history event."""
    if not outcome or not outcome.strip():
        raise UsageError("--outcome must say what the agent did after the decision")
    with locked(workspace, ref) as packet:
        check_status(workspace, packet, CLOSABLE, "close")
        at = iso(now or now_utc())
        event = {"event": "closed", "at": at, "by": identity or "agent",
                 "outcome": outcome.strip()}
        write_keys(workspace, packet, {"status": "closed", "outcome": outcome.strip(),
                                       "history": _history(packet, event)})
    return Recorded(packet.path, packet.run_id or packet.path.stem, "closed", event)


