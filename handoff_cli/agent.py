"""The agent's side of a packet: its status, the decision and the next action, and waiting for
a decision. Returns frozen dataclasses or raises HandoffError.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import HandoffError, PacketError
from .packet import Packet
from .review import SETTLED, OptionRow, _text, load, option_rows, reload
from .workspace import Workspace, find_packet_file, resolve_packet_path


@dataclass(frozen=True)
class PacketStatus:
    """The agent's view of a packet: its status, the decision and what to do next."""

    run_id: str
    path: str
    status: str
    decision: Mapping[str, Any] | None
    option: OptionRow | None
    next_action: str
    missing: tuple[str, ...]
    outcome: str | None
    verified: bool | None = None  # None: signatures are off, or there is no decision
    verification: str | None = None  # the verdict's reason when signatures are on
    signatures: str = "off"

    @property
    def settled(self) -> bool:
        """Decided, returned, withdrawn or closed: the agent may stop waiting. With
        decisions.signatures required, a decision or return that does not verify is not
        settled: an agent never acts on a forgery."""
        if self.status not in SETTLED:
            return False
        if self.signatures == "required" and self.decision is not None \
                and self.status in ("decided", "returned", "closed"):
            return self.verified is True
        return True

    def as_dict(self) -> dict[str, Any]:
        option = None if self.option is None else {"label": self.option.label,
                                                     "risk": self.option.risk}
        return {"runId": self.run_id, "path": self.path, "status": self.status,
                "decision": dict(self.decision) if self.decision is not None else None,
                "option": option, "missing": list(self.missing),
                "agentNextActionAfterDecision": self.next_action, "outcome": self.outcome,
                "verified": self.verified, "verification": self.verification,
                "settled": self.settled}



def status_of(workspace: Workspace, packet: Packet) -> PacketStatus:
    """The agent's view of a loaded packet."""
    data = packet.data
    decision = data.get("decision")
    decision = decision if isinstance(decision, dict) else None
    chosen = None
    missing: tuple[str, ...] = ()
    if decision is not None:
        label = decision.get("option")
        chosen = next((o for o in option_rows(data) if o.label == label), None)
        if isinstance(decision.get("missing"), list):
            missing = tuple(str(m) for m in decision["missing"])
    outcome = data.get("outcome")
    verified: bool | None = None
    verification: str | None = None
    signatures = workspace.settings.signatures
    if signatures != "off" and decision is not None:
        from .signing import verdict_of

        verdict = verdict_of(workspace, packet)
        verified, verification = verdict.verified, verdict.reason
    return PacketStatus(
        run_id=packet.run_id or packet.path.stem, path=workspace.relative(packet.path),
        status=packet.status, decision=decision, option=chosen,
        next_action=_text(data, "agentNextActionAfterDecision"), missing=missing,
        outcome=outcome if isinstance(outcome, str) else None,
        verified=verified, verification=verification, signatures=signatures,
    )


def status(workspace: Workspace, ref: str | Path) -> PacketStatus:
    """The status, decision, chosen option and next action of a packet."""
    return status_of(workspace, load(workspace, ref))


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def wait(workspace: Workspace, ref: str | Path, timeout: float | None,
         clock: Callable[[], float] = time.monotonic,
         sleep: Callable[[float], None] = time.sleep,
         interval: float = 0.1, max_interval: float = 2.0,
         pull: Callable[[], object] | None = None,
         pull_interval: float = 2.0, max_pull_interval: float = 60.0) -> PacketStatus:
    """Block until the packet is settled (decided, returned, withdrawn or closed).

    Polls the file's mtime, size and inode, reloading only when they change, with a backoff
    from `interval` to `max_interval`. timeout None waits forever; 0 checks once.
    With `pull` (e.g. fetching the shared git branch), calls it first and then again every
    `pull_interval` seconds, backing off to `max_pull_interval`; only the first pull's
    failure is raised (later ones are retried at the next interval).
    Raises WaitTimeout.
    """
    import math

    from .errors import UsageError

    if timeout is not None and math.isnan(timeout):
        raise UsageError("timeout must be a number of seconds, not NaN")
    if timeout is not None and math.isinf(timeout):
        timeout = None if timeout > 0 else 0.0
    next_pull = None
    if pull is not None:
        pull()
        next_pull = clock() + pull_interval
    path = resolve_packet_path(workspace, str(ref))
    deadline = None if timeout is None else clock() + max(timeout, 0.0)
    seen: tuple[int, int, int] | None = None
    delay = interval
    run_id = path.stem
    while True:
        if pull is not None and next_pull is not None and clock() >= next_pull:
            with contextlib.suppress(HandoffError):  # a network blip: try at the next interval
                pull()
            pull_interval = min(pull_interval * 2, max_pull_interval)
            next_pull = clock() + pull_interval
        signature = _signature(path)
        if signature is None:  # `route` may have moved it to the exception queue
            moved = find_packet_file(workspace, run_id)
            if moved is not None and moved != path:
                path, seen = moved, None
                signature = _signature(path)
        if signature is not None and signature != seen:
            seen = signature
            try:
                loaded = reload(workspace, path)
                run_id = loaded.run_id or run_id
                current = status_of(workspace, loaded)
            except PacketError:
                current = None  # mid-edit by hand; look again when it changes
            if current is not None and current.settled:
                return current
            delay = interval
        remaining = None if deadline is None else deadline - clock()
        if remaining is not None and remaining <= 0:
            raise timed_out(workspace, path, timeout)
        step = delay if remaining is None else min(delay, remaining)
        if next_pull is not None:
            step = max(min(step, next_pull - clock()), 0.0)
        sleep(step)
        delay = min(delay * 1.5, max_interval)


def timed_out(workspace: Workspace, path: Path, timeout: float | None) -> HandoffError:
    """The WaitTimeout for a packet, carrying its status as it is now (for the JSON on stdout)."""
    from .errors import WaitTimeout

    try:
        now: PacketStatus | None = status_of(workspace, reload(workspace, path))
    except HandoffError:
        now = None
    shown = "unreadable" if now is None else now.status
    what = "verified decision" if workspace.settings.signatures == "required" else "decision"
    error = WaitTimeout(f"no {what} after {timeout or 0:g}s; status is still '{shown}'",
                        workspace.relative(path))
    error.status = now
    return error


def current_status(workspace: Workspace, path: Path) -> str:
    """The packet's status, or 'unreadable'."""
    try:
        return reload(workspace, path).status
    except HandoffError:
        return "unreadable"
