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

from .errors import (
    ConflictError,
    NotAllowedError,
    NotReadyError,
    PacketError,
    SigningError,
    UsageError,
)
from .packet import Packet, content_digest
from .review import (
    CLOSABLE,
    DECIDABLE,
    OptionRow,
    ReviewView,
    load,
    option_rows,
    reload,
    view_of,
)
from .textsafe import visible_key
from .timeutil import iso, now_utc
from .workspace import Workspace


@dataclass(frozen=True)
class Recorded:
    """What decide, return_packet, close (or withdraw, resubmit, resolve) wrote; `hook_problems`
    are the notification hooks that failed (the write stands)."""

    path: Path
    run_id: str
    status: str
    event: Mapping[str, Any]
    hook_problems: tuple[str, ...] = ()



# -- checks -------------------------------------------------------------------------------------


def choose_option(options: Sequence[OptionRow], choice: str) -> OptionRow:
    """The option a reviewer named (`decide --option`, the prompt, the API: one rule).

    A number is always a position: "1" is the first option, even when another option is
    labelled "1" (lint H308 flags a label that is a number, so an agent fixes it). Anything
    else is a label: the exact label, else the one label that looks the same ignoring case,
    spacing and invisible characters. Several labels that match are refused as ambiguous.
    """
    from .textsafe import option_position

    listed = ", ".join(f"{o.number}. '{o.label}'" for o in options) or "none"
    position = option_position(choice)
    if position is not None:
        for option in options:
            if option.number == position:
                return option
        count = len(options)
        raise UsageError(f"there is no option {choice.strip()}: a number is an option's "
                         f"position, from 1 to {count}: {listed}" if count else
                         f"there is no option {choice.strip()}: the packet offers none")
    wanted = visible_key(choice)
    tests: tuple[Callable[[OptionRow], bool], ...] = (
        lambda o: o.label == choice,
        lambda o: visible_key(o.label) == wanted,
    )
    for matches in tests:
        found = [option for option in options if matches(option)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            numbers = ", ".join(str(o.number) for o in found)
            raise UsageError(f"'{choice}' matches options {numbers} (lint H307): choose one by "
                             f"its number: {listed}")
    raise UsageError(f"'{choice}' is not one of the packet's options: {listed}")


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
    hint = _unverified_hint(workspace, packet) if status in SUPERSEDABLE else ""
    if status == "decided":
        raise ConflictError(f"already decided{who}{hint}; nothing recorded", shown)
    raise ConflictError(f"cannot {action} a packet whose status is '{status}'{who}{hint}", shown)


# A recorded decision or return whose signature does not verify can be superseded; once the
# agent acted on it (closed) it is history, to be corrected by a new packet.
SUPERSEDABLE = frozenset({"decided", "returned"})
# The rules that judge the recorded decision itself: a decision that supersedes it does not
# wait for them (they are about what it replaces).
DECISION_RULES = frozenset({"H701", "H702", "H703", "H704", "H801", "H802"})


def _unverified_hint(workspace: Workspace, packet: Packet) -> str:
    from .signing import decision_verdict, failed

    verdict = decision_verdict(workspace, packet)
    if verdict is None or not failed(workspace, verdict):
        return ""
    return (f", but that decision is NOT VERIFIED ({verdict.reason}): record yours in its "
            "place with --supersede")


def check_supersedable(workspace: Workspace, packet: Packet) -> dict[str, Any]:
    """Refuse `--supersede` unless the packet's recorded decision or return fails verification
    (decisions.signatures on); the superseded decision, with why, for the history."""
    from .signing import decision_verdict, failed

    shown = workspace.relative(packet.path)
    if workspace.settings.signatures == "off":
        raise UsageError("--supersede replaces a decision whose signature does not verify, and "
                         "decisions.signatures is off in handoff.yaml; nothing recorded", shown)
    if packet.status not in SUPERSEDABLE:
        state = "open: decide it without --supersede" if packet.status in DECIDABLE else \
            f"'{packet.status}'"
        raise ConflictError(f"nothing to supersede: its status is {state}; nothing recorded",
                            shown)
    verdict = decision_verdict(workspace, packet)
    if verdict is None or not failed(workspace, verdict):
        raise ConflictError(f"its decision verifies (by {verdict.by if verdict else None}); "
                            "only a decision that does not verify can be superseded; nothing "
                            "recorded", shown)
    previous = packet.data.get("decision")
    return {"status": packet.status, "reason": verdict.reason,
            "decision": dict(previous) if isinstance(previous, dict) else None}


def check_in_queue(workspace: Workspace, packet: Packet) -> None:
    """Refuse (exit 4) a packet file outside this workspace's packets/ and exceptions/: another
    team's packet is judged by its own workspace's runbook, never by this one's."""
    import os

    real = os.path.realpath(packet.path)
    for folder in (workspace.packets_dir, workspace.exceptions_dir):
        inside = os.path.realpath(folder) + os.sep
        if real.startswith(inside):
            return
    raise NotAllowedError(
        f"it is not in this workspace's queue ({workspace.settings.packets}/ or "
        f"{workspace.settings.exceptions}/); run the command from the packet's own workspace; "
        "nothing recorded", workspace.relative(packet.path))


def check_member(workspace: Workspace, packet: Packet, identity: str | None,
                 now: datetime | None = None) -> str:
    """The reviewer's identity, if the runbook lets them decide this packet (else exit 4).

    Authority comes from the runbook's routing and escalation chain (authority.py), never from
    the packet's own ownerRole; a refusal never lists who the members are.
    """
    from .authority import authority_for

    check_in_queue(workspace, packet)
    runbook = workspace.runbook
    shown = workspace.relative(packet.path)
    authority = authority_for(runbook, packet.data, now or now_utc())
    if authority.problem is not None:
        raise NotAllowedError(f"{authority.problem}; nothing recorded", shown)
    owner = authority.owner
    above = [r for r in authority.roles if r != owner]
    roles_text = f"'{owner}'" + (f" or a role above it ({', '.join(above)})" if above else "")
    if not identity:
        if all(runbook.roles[r].members for r in authority.roles if r in runbook.roles):
            raise NotAllowedError(f"only members of {roles_text} may decide, and no identity "
                                  "is set: pass --as EMAIL or set HANDOFF_USER", shown)
        raise UsageError("who is deciding? pass --as EMAIL, set HANDOFF_USER or "
                         "git config user.email")
    if not authority.admits(runbook, identity):
        raise NotAllowedError(f"'{identity}' is not a member of {roles_text}; nothing "
                              "recorded", shown)
    return identity


def check_key_flag(workspace: Workspace, key: str | Path | None) -> None:
    """A signing key given while decisions.signatures is off is a usage error, not a no-op."""
    if key is not None and workspace.settings.signatures == "off":
        raise SigningError("--key given, but decisions.signatures is off in handoff.yaml; "
                           "nothing recorded")


def check_can_decide(workspace: Workspace, ref: str | Path, identity: str | None,
                     supersede: bool = False) -> ReviewView:
    """Before prompting: the packet is open (or, with `supersede`, holds a decision that does
    not verify) and the reviewer may decide it; its view."""
    packet = load(workspace, ref)
    check_member(workspace, packet, identity)  # authority before every other refusal
    if not supersede:
        check_status(workspace, packet, DECIDABLE, "decide")
        return view_of(workspace, packet)
    check_supersedable(workspace, packet)
    return view_of(workspace, packet, lint_errors=lint_errors(workspace, packet, DECISION_RULES))


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

    replace_file(workspace.state_dir, packet.path, lock_key(packet.run_id, packet.path), text,
                 expected=packet.text, limit=workspace.settings.max_file_bytes,
                 shown=workspace.relative(packet.path))


def recorded(workspace: Workspace, packet: Packet, status: str, event: Mapping[str, Any],
             hook_event: str | None = None) -> Recorded:
    """The result of a write, after the event's notification hooks ran (outside the lock)."""
    from .hooks import notify

    problems = notify(workspace, hook_event or status, packet.path, event)
    return Recorded(packet.path, packet.run_id or packet.path.stem, status, event, problems)


def _history(packet: Packet, event: Mapping[str, Any]) -> list[Any]:
    history = packet.data.get("history")
    return [*(history if isinstance(history, list) else []), dict(event)]


def _check_seen(workspace: Workspace, packet: Packet, seen_digest: str | None) -> str:
    digest = content_digest(packet)
    if seen_digest is not None and not seen_digest.strip():
        raise UsageError("--digest is empty: give the digest from 'show --format json', or "
                         "leave --digest out")
    if seen_digest is not None and seen_digest.strip() != digest:
        raise ConflictError("the packet changed while deciding (its content is not what was "
                            "shown); nothing recorded: review it again",
                            workspace.relative(packet.path))
    return digest


def _record(workspace: Workspace, ref: str | Path, status: str, option: str | None,
            missing: Sequence[str] | None, note: str | None, identity: str | None,
            seen_digest: str | None, now: datetime | None,
            key: str | Path | None, force: bool = False, supersede: bool = False) -> Recorded:
    """Check, sign (outside the lock: a passphrase may take a while) and write a decision or a
    return; under the lock the packet must still be open and hold the content that was signed.
    A decision (not a return) needs a packet without lint errors, unless `force`. With
    `supersede`, the packet must instead hold a recorded decision that fails verification: it
    is replaced, and kept in a 'superseded' history event."""
    from .signing import sign_decision, statement

    action = "decide" if status == "decided" else "return"
    at = iso(now or now_utc())
    note = note.strip() if note and note.strip() else None
    if seen_digest is not None and not seen_digest.strip():
        raise UsageError("--digest is empty: give the digest from 'show --format json', or "
                         "leave --digest out")
    check_key_flag(workspace, key)

    def prepare(packet: Packet) -> tuple[str, str | None, str, dict[str, Any] | None]:
        by = check_member(workspace, packet, identity, now)  # authority before all else
        superseded = check_supersedable(workspace, packet) if supersede else None
        if not supersede:
            check_status(workspace, packet, DECIDABLE, action)
        label = choose_option(option_rows(packet.data), option).label if option is not None \
            else None
        return by, label, _check_seen(workspace, packet, seen_digest), superseded

    first = load(workspace, ref)
    by, label, digest, _ = prepare(first)
    if status == "decided" and not force:
        check_ready(workspace, first, DECISION_RULES if supersede else frozenset())
    run_id = first.run_id or first.path.stem
    event_name = "decided" if status == "decided" else "returned"
    signed = statement(run_id, digest, event_name, label, missing, note, by, at)
    signature = sign_decision(workspace, key, signed, by, at)
    with locked(workspace, ref) as packet:
        by_now, label_now, digest_now, superseded = prepare(packet)
        if (by_now, label_now, digest_now, packet.run_id or packet.path.stem) != \
                (by, label, digest, run_id):
            raise ConflictError("the packet changed while deciding (its content is not what "
                                "was shown); nothing recorded: review it again",
                                workspace.relative(packet.path))
        decision: dict[str, Any] = {"option": label, "by": by, "at": at, "note": note,
                                    "digest": digest}
        event: dict[str, Any] = {"event": event_name, "at": at, "by": by}
        if missing is not None:
            decision["missing"] = list(missing)
            event["missing"] = list(missing)
        else:
            event["option"] = label
        if note:
            event["note"] = note
        if signature is not None:
            decision["signature"] = signature
            event["signature"] = signature
        history = _history(packet, event)
        if superseded is not None:  # kept, before the decision that replaces it
            history.insert(len(history) - 1, {"event": "superseded", "at": at, "by": by,
                                              **superseded})
        write_keys(workspace, packet, {"status": status, "decision": decision,
                                       "history": history})
    return recorded(workspace, packet, status, event)


def lint_errors(workspace: Workspace, packet: Packet, ignore: frozenset[str] = frozenset()) -> int:
    """The packet's lint errors, as `handoff lint` counts them, but those of the `ignore` rules."""
    from .lint.engine import error_counts

    return error_counts(workspace, [packet.path], ignore=ignore)[packet.path]


def check_ready(workspace: Workspace, packet: Packet,
                ignore: frozenset[str] = frozenset()) -> None:
    """Refuse (exit 1) to decide a packet that has lint errors (but those of the `ignore`
    rules): it is not ready."""
    errors = lint_errors(workspace, packet, ignore)
    if errors:
        shown = workspace.relative(packet.path)
        raise NotReadyError(f"not ready: {errors} lint error{'s' if errors != 1 else ''} (see "
                            f"'handoff lint {shown}'); return it to the agent, or decide "
                            "anyway with --force; nothing recorded", shown)


def decide(workspace: Workspace, ref: str | Path, option: str, note: str | None = None,
           identity: str | None = None, seen_digest: str | None = None,
           now: datetime | None = None, *, key: str | Path | None = None,
           force: bool = False, supersede: bool = False) -> Recorded:
    """Record the owner's decision: status 'decided', `decision` and a history event.

    `option` names the option as `choose_option` reads it, like `decide --option`: a number is
    always its position (1 is the first), anything else its label; no such option, or a label
    several options match, is a UsageError. The decision records the option's label.

    Only a person the runbook lets decide this packet may (NotAllowedError). `seen_digest` is
    the digest of the view the reviewer saw; a packet whose content changed since is refused
    (ConflictError), as is one already decided, and one with lint errors unless `force`
    (NotReadyError). With decisions.signatures on, the decision is signed with `key` (else
    $HANDOFF_SIGNING_KEY, else git's ssh signing key). `supersede` records it in place of a
    decision or return whose signature does not verify (ConflictError for any other packet);
    the replaced one stays in the history as a 'superseded' event.
    """
    return _record(workspace, ref, "decided", option, None, note, identity, seen_digest, now,
                   key, force, supersede)


def return_packet(workspace: Workspace, ref: str | Path, missing: Sequence[str],
                  note: str | None = None, identity: str | None = None,
                  seen_digest: str | None = None, now: datetime | None = None, *,
                  key: str | Path | None = None, supersede: bool = False) -> Recorded:
    """Send the packet back to the agent (status 'returned'), naming what is missing
    (`supersede` as for `decide`)."""
    fields = [m.strip() for m in missing if m and m.strip()]
    if not fields:
        raise UsageError("a return must name what is missing: --missing FIELD")
    return _record(workspace, ref, "returned", None, fields, note, identity, seen_digest, now,
                   key, supersede=supersede)


def close(workspace: Workspace, ref: str | Path, outcome: str, identity: str | None = None,
          now: datetime | None = None) -> Recorded:
    """The agent resumed: status 'closed', an `outcome` and a history event."""
    if not outcome or not outcome.strip():
        raise UsageError("--outcome must say what the agent did after the decision")
    with locked(workspace, ref) as packet:
        check_in_queue(workspace, packet)
        check_status(workspace, packet, CLOSABLE, "close")
        at = iso(now or now_utc())
        event = {"event": "closed", "at": at, "by": identity or "agent",
                 "outcome": outcome.strip()}
        write_keys(workspace, packet, {"status": "closed", "outcome": outcome.strip(),
                                       "history": _history(packet, event)})
    return recorded(workspace, packet, "closed", event)


