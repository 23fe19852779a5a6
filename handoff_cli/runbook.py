"""The runbook: roles and members, handoff types and their owners, exception triggers.

Declared before the run; loading validates it and reports a broken runbook with file and line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from .errors import ConfigError

CATEGORIES = ("business_judgment", "risk_authorization", "evidence_gap")
DEFAULT_TIME_TO_DECIDE = timedelta(days=1)

_DURATION_PART = re.compile(
    r"(\d+(?:\.\d+)?)\s*(w|weeks?|d|days?|h|hrs?|hours?|m|mins?|minutes?)\b", re.IGNORECASE
)
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60}


@dataclass(frozen=True)
class Role:
    """A role that owns decisions; empty members means anyone may act for it."""

    name: str
    description: str
    members: tuple[str, ...]
    escalates_to: str | None


@dataclass(frozen=True)
class HandoffType:
    """One kind of planned handoff and who decides it."""

    name: str
    category: str
    description: str
    owner: str
    agent_completes: tuple[str, ...]
    required_evidence: tuple[str, ...]
    responses: tuple[str, ...]
    time_to_decide: timedelta
    time_to_decide_text: str
    template: str


@dataclass(frozen=True)
class ExceptionTrigger:
    """An unplanned failure: a trigger matching one of its phrases belongs in the exception queue."""

    name: str
    description: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Runbook:
    """The validated role map."""

    path: Path
    roles: Mapping[str, Role]
    types: Mapping[str, HandoffType]
    exception_triggers: tuple[ExceptionTrigger, ...]

    def route_for(self, type_name: str, packet: Mapping[str, Any] | None = None) -> str | None:
        """The owner role for a handoff type (None for an unknown type)."""
        handoff_type = self.types.get(type_name)
        return handoff_type.owner if handoff_type else None

    def exception_trigger_for(self, text: object) -> ExceptionTrigger | None:
        """The exception trigger that a trigger reason describes, if any."""
        if not isinstance(text, str):
            return None
        folded = " ".join(text.casefold().split())
        for trigger in self.exception_triggers:
            if any(phrase in folded for phrase in _folded_phrases(trigger)):
                return trigger
        return None

    def is_member(self, role_name: str, identity: str | None) -> bool:
        """Whether `identity` may act for `role_name` (a role without members admits anyone)."""
        role = self.roles.get(role_name)
        if role is None:
            return False
        if not role.members:
            return True
        if not identity:
            return False
        wanted = identity.strip().casefold()
        return any(member.casefold() == wanted for member in role.members)

    def roles_of(self, identity: str | None) -> list[str]:
        """The roles that list `identity` as a member."""
        if not identity:
            return []
        wanted = identity.strip().casefold()
        return [r.name for r in self.roles.values() if wanted in (m.casefold() for m in r.members)]


def _folded_phrases(trigger: ExceptionTrigger) -> list[str]:
    return [" ".join(p.casefold().split()) for p in trigger.phrases]


def parse_duration(text: str) -> timedelta | None:
    """Parse '4h', '30m', '2d', '1w', '1d 4h', '90 minutes'; None if not a duration."""
    stripped = text.strip()
    if not stripped:
        return None
    total = 0.0
    position = 0
    for match in _DURATION_PART.finditer(stripped):
        if stripped[position : match.start()].strip(" ,"):
            return None
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)[0].lower()]
        position = match.end()
    if position == 0 or stripped[position:].strip():
        return None
    return timedelta(seconds=total)


def load_runbook(path: Path) -> Runbook:
    """Load and validate a runbook file; raise ConfigError with the file and line."""
    from .yamlio import load_yaml_config

    data, text = load_yaml_config(path)
    return parse_runbook(data, text, path)


def parse_runbook(data: Any, text: str, path: Path) -> Runbook:
    """Validate runbook data against its schema and its cross-references."""
    from .schema import runbook_validator
    from .yamlio import line_of

    def fail(message: str, keypath: tuple[str | int, ...] = ()) -> ConfigError:
        return ConfigError(f"broken runbook: {message}", path, line_of(text, keypath))

    if not isinstance(data, dict):
        raise fail("the runbook must be a mapping with 'roles' and 'handoffTypes'")
    errors = sorted(runbook_validator().iter_errors(data), key=lambda e: list(map(str, e.path)))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.absolute_path) or "top level"
        raise fail(f"{where}: {first.message}", tuple(first.absolute_path))

    roles = {
        name: Role(
            name=name,
            description=spec.get("description", ""),
            members=tuple(spec.get("members", ())),
            escalates_to=spec.get("escalatesTo"),
        )
        for name, spec in data["roles"].items()
    }
    for role in roles.values():
        if role.escalates_to is not None and role.escalates_to not in roles:
            raise fail(
                f"role '{role.name}' escalates to unknown role '{role.escalates_to}'",
                ("roles", role.name, "escalatesTo"),
            )
    types: dict[str, HandoffType] = {}
    for name, spec in data["handoffTypes"].items():
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", name):
            raise fail(f"handoff type '{name}' must be letters, digits, _ or -", ("handoffTypes",))
        if spec["owner"] not in roles:
            raise fail(
                f"handoff type '{name}' is owned by unknown role '{spec['owner']}'",
                ("handoffTypes", name, "owner"),
            )
        ttd_text = spec.get("timeToDecide", "1d")
        ttd = parse_duration(ttd_text)
        if ttd is None:
            raise fail(
                f"timeToDecide '{ttd_text}' of '{name}' is not a duration like 30m, 4h, 2d or 1w",
                ("handoffTypes", name, "timeToDecide"),
            )
        if len(set(spec["responses"])) != len(spec["responses"]):
            raise fail(f"responses of '{name}' repeat a label", ("handoffTypes", name, "responses"))
        types[name] = HandoffType(
            name=name,
            category=spec["category"],
            description=spec.get("description", ""),
            owner=spec["owner"],
            agent_completes=tuple(spec.get("agentCompletes", ())),
            required_evidence=tuple(spec.get("requiredEvidence", ())),
            responses=tuple(spec["responses"]),
            time_to_decide=ttd,
            time_to_decide_text=ttd_text,
            template=spec.get("template", f"{name}.md"),
        )
    triggers = tuple(
        ExceptionTrigger(
            name=spec["name"], description=spec.get("description", ""),
            phrases=tuple(spec["phrases"]),
        )
        for spec in data.get("exceptionTriggers", ())
    )
    return Runbook(path=path, roles=roles, types=types, exception_triggers=triggers)
