"""`handoff stats`: how the queue is doing, read from each packet's status, decision and history.

Counts, time to decision per owner, overdue packets, and which fields reviewers keep asking for.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .packet import LoadFailure, is_overdue, load_packet, status_of
from .timeutil import now_utc, parse_iso
from .workspace import Workspace, packet_files

# A field missing in this many returns is the agent's design, not the reviewer's job.
REPEAT_THRESHOLD = 3
DECIDED = frozenset({"decided", "closed"})


@dataclass(frozen=True)
class DecisionTimes:
    """How long one owner role takes to decide: from createdAt to the decision."""

    owner: str
    count: int
    median: timedelta
    p90: timedelta

    def as_dict(self) -> dict[str, object]:
        return {"count": self.count, "medianSeconds": int(self.median.total_seconds()),
                "p90Seconds": int(self.p90.total_seconds())}


@dataclass(frozen=True)
class Stats:
    """The queue in numbers."""

    total: int
    by_status: Mapping[str, int]
    by_type: Mapping[str, int]
    by_owner: Mapping[str, int]
    overdue: int
    invalid: int
    exceptions: int
    decision_times: tuple[DecisionTimes, ...]
    returned_packets: int
    returns_by_field: Mapping[str, int]
    warnings: tuple[str, ...]
    unverified: int = 0  # recorded decisions that do not verify (decisions.signatures on)

    def as_dict(self) -> dict[str, object]:
        return {
            "total": self.total, "byStatus": dict(self.by_status), "byType": dict(self.by_type),
            "byOwner": dict(self.by_owner), "overdue": self.overdue, "invalid": self.invalid,
            "exceptions": self.exceptions,
            "timeToDecision": {t.owner: t.as_dict() for t in self.decision_times},
            "returnedPackets": self.returned_packets,
            "returnsByMissingField": dict(self.returns_by_field),
            "warnings": list(self.warnings), "unverifiedDecisions": self.unverified,
        }


def queue_stats(workspace: Workspace, *, now: datetime | None = None,
                repeat_threshold: int = REPEAT_THRESHOLD) -> Stats:
    """Stats for every packet in packets/ (and a count of the exception queue)."""
    now = now or now_utc()
    packets: list[dict[str, Any]] = []
    paths = []
    invalid = 0
    for path in packet_files(workspace.packets_dir):
        try:
            packet = load_packet(path, workspace.settings.max_file_bytes, workspace.real_root_text)
            packets.append(packet.data)
            paths.append(path)
        except LoadFailure:
            invalid += 1
    exceptions = len(packet_files(workspace.exceptions_dir))
    return stats_for(packets, now=now, invalid=invalid, exceptions=exceptions,
                     repeat_threshold=repeat_threshold,
                     unverified=forged_decisions(workspace, paths, packets))


def forged_decisions(workspace: Workspace, paths: list[Any],
                     packets: list[dict[str, Any]]) -> frozenset[int]:
    """The indexes of the packets whose recorded decision does not verify (as `handoff verify`
    judges it), with decisions.signatures on; verdicts come from the result cache when the
    queue is large enough to keep one."""
    if workspace.settings.signatures == "off":
        return frozenset()
    from .queue import CACHE_MIN_FILES
    from .signing import RECORDED, cached_verdict, failed, verdict_key

    cache = None
    if len(paths) >= CACHE_MIN_FILES:
        from .cache import ResultCache

        cache = ResultCache(workspace.state_dir)
    key = verdict_key(workspace)
    forged = set()
    for index, (path, data) in enumerate(zip(paths, packets, strict=True)):
        if status_of(data) in RECORDED:
            verdict = cached_verdict(workspace, path, cache, key)
            if verdict is not None and failed(workspace, verdict):
                forged.add(index)
    if cache is not None:
        cache.save()
    return frozenset(forged)


def stats_for(packets: Iterable[Mapping[str, Any]], *, now: datetime, invalid: int = 0,
              exceptions: int = 0, repeat_threshold: int = REPEAT_THRESHOLD,
              unverified: Collection[int] = ()) -> Stats:
    """Stats for packet data already loaded (`unverified`: the indexes of packets whose
    decision does not verify; they are counted, never timed as decisions)."""
    packets = list(packets)
    by_status = Counter(status_of(p) for p in packets)
    by_type = Counter(_text(p, "handoffType") for p in packets)
    by_owner = Counter(_text(p, "ownerRole") for p in packets)
    overdue = sum(1 for p in packets if is_overdue(p, now))
    times: dict[str, list[timedelta]] = {}
    for index, packet in enumerate(packets):
        took = None if index in unverified else time_to_decision(packet)
        if took is not None:
            times.setdefault(_text(packet, "ownerRole"), []).append(took)
    returns: Counter[str] = Counter()
    returned_packets = 0
    for packet in packets:
        fields = missing_fields(packet)
        returned_packets += bool(fields)
        returns.update(fields)
    return Stats(
        total=len(packets), by_status=_sorted(by_status), by_type=_sorted(by_type),
        by_owner=_sorted(by_owner), overdue=overdue, invalid=invalid, exceptions=exceptions,
        decision_times=tuple(summarise(owner, values) for owner, values in sorted(times.items())),
        returned_packets=returned_packets, returns_by_field=_sorted(returns),
        warnings=tuple(repeat_warnings(returns, repeat_threshold)),
        unverified=len(unverified),
    )


def time_to_decision(packet: Mapping[str, Any]) -> timedelta | None:
    """createdAt to the decision's `at` (or the history's last decided event); None if undecided."""
    if status_of(packet) not in DECIDED:
        return None
    history = _events(packet)
    created = parse_iso(packet.get("createdAt"))
    if created is None:
        created = next((parse_iso(e.get("at")) for e in history if e.get("event") == "created"),
                       None)
    decision = packet.get("decision")
    decided = parse_iso(decision.get("at")) if isinstance(decision, Mapping) else None
    if decided is None:
        decided = next((parse_iso(e.get("at")) for e in reversed(history)
                        if e.get("event") == "decided"), None)
    if created is None or decided is None or decided < created:
        return None
    return decided - created


def missing_fields(packet: Mapping[str, Any]) -> list[str]:
    """The fields named by the packet's returns (history `returned` events, else decision)."""
    fields: list[str] = []
    for event in _events(packet):
        if event.get("event") == "returned":
            fields.extend(_strings(event.get("missing")))
    if not fields and status_of(packet) == "returned":
        decision = packet.get("decision")
        if isinstance(decision, Mapping):
            fields.extend(_strings(decision.get("missing")))
    return fields


def summarise(owner: str, values: list[timedelta]) -> DecisionTimes:
    """Median and p90 (nearest rank) of one owner's decision times."""
    import statistics

    ordered = sorted(values)
    median = timedelta(seconds=statistics.median(v.total_seconds() for v in ordered))
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    return DecisionTimes(owner, len(ordered), median, p90)


def repeat_warnings(returns: Mapping[str, int], threshold: int) -> list[str]:
    """A plain warning for each field that keeps coming back."""
    return [
        f"'{name}' was missing in {count} returns: change the agent's design (instructions, "
        f"tools or template) so that it collects {name}; reviewers should not keep asking for it"
        for name, count in returns.items() if count >= threshold
    ]


def _events(packet: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    history = packet.get("history")
    if not isinstance(history, list):
        return []
    return [e for e in history if isinstance(e, Mapping)]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _text(packet: Mapping[str, Any], key: str) -> str:
    value = packet.get(key)
    return value if isinstance(value, str) and value else "?"


def _sorted(counts: Counter[str]) -> dict[str, int]:
    """Most first, then by name: stable output."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
