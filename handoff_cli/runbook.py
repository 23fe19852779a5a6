"""The runbook: roles and members, handoff types, their owners and field rules, exception triggers.

Declared before the run; loading validates it and reports a broken runbook with file and line.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import ConfigError

CATEGORIES = ("business_judgment", "risk_authorization", "evidence_gap")
DEFAULT_TIME_TO_DECIDE = timedelta(days=1)
MAX_TIME_TO_DECIDE = timedelta(days=3650)

_DURATION_PART = re.compile(
    r"(\d+(?:\.\d+)?)\s*(w|weeks?|d|days?|h|hrs?|hours?|m|mins?|minutes?)\b", re.IGNORECASE
)
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60}
_COMPARISON = re.compile(r"^\s*(>=|<=|!=|==|>|<)\s*(.*?)\s*$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq, "!=": operator.ne,
}


@dataclass(frozen=True)
class Role:
    """A role that owns decisions; empty members means anyone may act for it."""

    name: str
    description: str
    members: tuple[str, ...]
    escalates_to: str | None


@dataclass(frozen=True)
class Condition:
    """One `field: test` of a rule: a comparison with a number, one value, or a list of values."""

    field: str
    op: str  # ">", ">=", "<", "<=", "==", "!=" (numbers), "is" (one value), "in" (list)
    value: Any

    def matches(self, packet: Mapping[str, Any]) -> bool:
        """Whether the packet's field passes this test (a missing field never does)."""
        found, actual = field_value(packet, self.field)
        if not found:
            return False
        if self.op in _OPERATORS:
            number = as_number(actual)
            return number is not None and _OPERATORS[self.op](number, self.value)
        wanted = self.value if self.op == "in" else [self.value]
        return any(same_value(actual, item) for item in wanted)

    def describe(self) -> str:
        """The test as a person reads it: 'amount > 1000', 'customerTier is vip'."""
        if self.op in _OPERATORS:
            return f"{self.field} {self.op} {_number_text(self.value)}"
        if self.op == "in":
            return f"{self.field} is one of {', '.join(_scalar_text(v) for v in self.value)}"
        return f"{self.field} is {_scalar_text(self.value)}"


@dataclass(frozen=True)
class RouteRule:
    """A field rule: when every condition matches, `owner` decides instead of the type's owner."""

    conditions: tuple[Condition, ...]
    owner: str
    description: str = ""

    def matches(self, packet: Mapping[str, Any]) -> bool:
        return all(condition.matches(packet) for condition in self.conditions)

    def describe(self) -> str:
        return " and ".join(condition.describe() for condition in self.conditions)


@dataclass(frozen=True)
class Routing:
    """Who owns a packet and why (the rule that matched, or an escalation)."""

    owner: str
    reason: str
    base_owner: str  # the owner before any escalation


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
    routes: tuple[RouteRule, ...] = ()


@dataclass(frozen=True)
class ExceptionTrigger:
    """An unplanned failure: a trigger with one of its phrases belongs in the exception queue."""

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
        """The owner role for a packet of a handoff type (None for an unknown type)."""
        routing = self.routing_for(type_name, packet)
        return routing.owner if routing else None

    def routing_for(self, type_name: str,
                    packet: Mapping[str, Any] | None = None) -> Routing | None:
        """The owner and the reason: first matching field rule, else the type's owner; a
        recorded escalation (`escalatedTo`) along the owner's escalation chain wins."""
        handoff_type = self.types.get(type_name)
        if handoff_type is None:
            return None
        data = packet or {}
        owner, reason = handoff_type.owner, f"owner of {type_name}"
        for index, rule in enumerate(handoff_type.routes, start=1):
            if rule.matches(data):
                owner, reason = rule.owner, f"rule {index} of {type_name}: {rule.describe()}"
                break
        escalated = data.get(ESCALATED_KEY)
        if isinstance(escalated, str) and escalated in self.escalation_chain(owner):
            return Routing(escalated, f"escalated from {owner}", owner)
        return Routing(owner, reason, owner)

    def escalation_chain(self, role_name: str) -> list[str]:
        """The roles above `role_name`, nearest first (the runbook has no loops)."""
        chain: list[str] = []
        role = self.roles.get(role_name)
        while role is not None and role.escalates_to and role.escalates_to not in chain:
            chain.append(role.escalates_to)
            role = self.roles.get(role.escalates_to)
        return chain

    def exception_trigger_for(self, text: object) -> ExceptionTrigger | None:
        """The exception trigger that a trigger reason describes, if any."""
        if not isinstance(text, str):
            return None
        folded = " ".join(text.casefold().split())
        if not _any_phrase(self.exception_triggers).search(folded):
            return None  # no trigger's phrase appears anywhere (the common case, in one scan)
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


ESCALATED_KEY = "escalatedTo"
CONDITION_HELP = 'write a value, a list of values, or a comparison such as "> 1000"'


def field_value(packet: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    """(found, value) of a field: a top-level key, or a dotted path like customer.tier."""
    if name in packet:
        return True, packet[name]
    current: Any = packet
    for part in name.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current


def as_number(value: Any) -> float | None:
    """A number, or a string that is only a number ('1240', '1240.50'); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an integer far beyond a float's range
            return float("inf") if value > 0 else float("-inf")
    if isinstance(value, str) and _NUMBER.match(value.strip().replace("_", "")):
        return float(value.strip().replace("_", ""))
    return None


def same_value(actual: Any, wanted: Any) -> bool:
    """Equality as a person means it: text ignores case and surrounding spaces, 2 == 2.0."""
    if isinstance(wanted, str) and isinstance(actual, str):
        return actual.strip().casefold() == wanted.strip().casefold()
    if isinstance(wanted, bool) or isinstance(actual, bool):
        return actual is wanted
    number = as_number(actual)
    return number is not None and isinstance(wanted, (int, float)) and number == wanted


def _number_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return _number_text(float(value)) if isinstance(value, (int, float)) else str(value)


@lru_cache(maxsize=16)
def _any_phrase(triggers: tuple[ExceptionTrigger, ...]) -> re.Pattern[str]:
    """One pattern that finds any trigger's folded phrase (which one wins is decided after)."""
    phrases = sorted({p for t in triggers for p in _folded_phrases(t)}, key=len, reverse=True)
    return re.compile("|".join(re.escape(p) for p in phrases) if phrases else "(?!)")


@lru_cache(maxsize=256)
def _folded_phrases(trigger: ExceptionTrigger) -> tuple[str, ...]:
    return tuple(" ".join(p.casefold().split()) for p in trigger.phrases)


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
    if total > MAX_TIME_TO_DECIDE.total_seconds():
        return MAX_TIME_TO_DECIDE + timedelta(seconds=1)  # the caller refuses it as too long
    return timedelta(seconds=total)


def load_runbook(path: Path) -> Runbook:
    """Load and validate a runbook file; raise ConfigError with the file and line."""
    from .yamlio import load_yaml_config

    data, text = load_yaml_config(path)
    return parse_runbook(data, text, path)


def template_path_reason(value: str) -> str | None:
    """Why a runbook `template:` is not a relative path inside the templates folder, by its
    text alone (absolute, a `..` leading out, a NUL, only a folder), or None."""
    from .workspace import path_escape_reason

    reason = path_escape_reason(value)
    if reason is not None:
        return reason.replace("the workspace", "the templates folder")
    if value.replace("\\", "/").rstrip("/").split("/")[-1] in ("", ".", ".."):
        return "names a folder, not a file"
    return None


def parse_runbook(data: Any, text: str, path: Path) -> Runbook:
    """Validate runbook data against its schema and its cross-references."""
    from .schema import fast_is_valid, runbook_validator
    from .yamlio import line_of

    def fail(message: str, keypath: tuple[str | int, ...] = ()) -> ConfigError:
        return ConfigError(f"broken runbook: {message}", path, line_of(text, keypath))

    if not isinstance(data, dict):
        raise fail("the runbook must be a mapping with 'roles' and 'handoffTypes'")
    errors = [] if fast_is_valid("runbook", data) else sorted(
        runbook_validator().iter_errors(data), key=lambda e: list(map(str, e.path)))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.absolute_path) or "top level"
        message = first.message
        if len(first.absolute_path) == 6 and first.absolute_path[4] == "when":
            message = f"{first.instance!r} is not a test; {CONDITION_HELP}"
        raise fail(f"{where}: {message}", tuple(first.absolute_path))

    roles = {
        name: Role(
            name=name,
            description=spec.get("description", ""),
            members=tuple(spec.get("members", ())),
            escalates_to=spec.get("escalatesTo"),
        )
        for name, spec in data["roles"].items()
    }
    check_escalations(roles, fail)
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
        if ttd > MAX_TIME_TO_DECIDE or ttd <= timedelta(0):
            raise fail(f"timeToDecide '{ttd_text}' of '{name}' must be more than 0 and at most "
                       f"{MAX_TIME_TO_DECIDE.days} days", ("handoffTypes", name, "timeToDecide"))
        if len(set(spec["responses"])) != len(spec["responses"]):
            raise fail(f"responses of '{name}' repeat a label", ("handoffTypes", name, "responses"))
        routes = tuple(
            parse_route(rule, ("handoffTypes", name, "routes", index), roles, fail)
            for index, rule in enumerate(spec.get("routes", ()))
        )
        template = spec.get("template", f"{name}.md")
        reason = template_path_reason(template)
        if reason is not None:
            raise fail(f"template '{template}' of '{name}' {reason}; it must be a relative path "
                       "to a file inside the templates folder", ("handoffTypes", name, "template"))
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
            template=template,
            routes=routes,
        )
    triggers = tuple(
        ExceptionTrigger(
            name=spec["name"], description=spec.get("description", ""),
            phrases=tuple(spec["phrases"]),
        )
        for spec in data.get("exceptionTriggers", ())
    )
    return Runbook(path=path, roles=roles, types=types, exception_triggers=triggers)


Fail = Callable[..., ConfigError]


def check_escalations(roles: Mapping[str, Role], fail: Fail) -> None:
    """Every escalatesTo names a known role, and no escalation chain loops back."""
    for role in roles.values():
        if role.escalates_to is None:
            continue
        where = ("roles", role.name, "escalatesTo")
        if role.escalates_to not in roles:
            raise fail(f"role '{role.name}' escalates to unknown role '{role.escalates_to}'", where)
        path = [role.name]
        current: str | None = role.escalates_to
        while current is not None:
            path.append(current)
            if current == role.name:
                raise fail(f"escalation loops back: {' -> '.join(path)}", where)
            if current in path[:-1]:
                break  # a loop that does not pass through this role; reported for its own roles
            current = roles[current].escalates_to


def parse_route(rule: Mapping[str, Any], where: tuple[str | int, ...],
                roles: Mapping[str, Role], fail: Fail) -> RouteRule:
    """One `routes:` entry: `when: {field: test, ...}` and the `owner` it routes to."""
    if rule["owner"] not in roles:
        raise fail(f"{_dotted(where)}: owner '{rule['owner']}' is not a role in this runbook "
                   f"(roles: {', '.join(sorted(roles))})", (*where, "owner"))
    conditions = tuple(
        parse_condition(str(name), test, (*where, "when", name), fail)
        for name, test in rule["when"].items()
    )
    return RouteRule(conditions=conditions, owner=rule["owner"],
                     description=rule.get("description", ""))


def parse_condition(name: str, test: Any, where: tuple[str | int, ...], fail: Fail) -> Condition:
    """`"> 1000"` compares numbers; a list means one of; anything else means equal to."""
    if not name.strip():
        raise fail(f"{_dotted(where[:-1])}: a field name is empty", where)
    if isinstance(test, list):
        if not test or any(isinstance(item, (list, dict)) or item is None for item in test):
            raise fail(f"{_dotted(where)}: a list must hold one or more plain values", where)
        return Condition(name, "in", tuple(test))
    if isinstance(test, str):
        match = _COMPARISON.match(test)
        if match:
            number = as_number(match.group(2))
            if number is None:
                raise fail(f"{_dotted(where)}: '{test}' compares with '{match.group(2)}', which "
                           "is not a number (write e.g. \"> 1000\")", where)
            return Condition(name, match.group(1), number)
    if test is None or isinstance(test, dict):
        raise fail(f"{_dotted(where)}: {CONDITION_HELP}", where)
    return Condition(name, "is", test)


def _dotted(keypath: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in keypath)
