"""The lint rules: small pure checks from a loaded packet and its context to issues.

Each check yields Issue(code, keypath, message); the engine places and filters them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..authority import authority_for, recorded_escalation, runbook_due
from ..packet import Packet, content_digest, evidence_entries, option_labels
from ..runbook import ESCALATED_KEY, Runbook
from ..textsafe import option_position, visible_key
from ..timeutil import iso, now_utc, parse_iso
from ..workspace import Workspace, resolve_inside

KeyPath = tuple[str | int, ...]

PLACEHOLDER = re.compile(r"\$(?:([_A-Za-z][_A-Za-z0-9]*)|\{([_A-Za-z][_A-Za-z0-9]*)\})")
URL = re.compile(r"^https?://", re.IGNORECASE)
# Text that hands the reviewer a chore instead of an answer.
VAGUE = frozenset({
    "", "-", "--", "?", "...", "n/a", "na", "none", "null", "nil", "tbd", "tba", "todo", "fixme",
    "xxx", "placeholder", "pending", "unknown", "review", "please review", "pls review",
    "review please", "needs review", "review needed", "please check", "check", "please advise",
    "advise", "please decide", "decide", "see above", "see below", "see attached", "see body",
    "fyi", "as discussed", "lorem ipsum", "fill in", "to be filled", "something", "stuff", "wait",
    "ask", "please help", "help", "ok",
})
VAGUE_OPENERS = re.compile(
    r"^(please\s+)?(review|check|advise|decide|look|have a look|take a look|see)\b", re.IGNORECASE
)
EXCEPTION_OPTIONAL = frozenset({"options"})
RECOMMENDED_FIELDS = ("handoffType", "agentGoal", "agentNextActionAfterDecision")


@dataclass(frozen=True)
class Issue:
    """An unplaced finding: rule code, where in the packet, and the message."""

    code: str
    keypath: KeyPath
    message: str
    line: int | None = None  # for places outside the keys, such as the Markdown body


@dataclass(frozen=True)
class LintContext:
    """What the rules may consult besides the packet itself."""

    workspace: Workspace
    runbook: Runbook
    template_placeholders: frozenset[str] = field(default_factory=frozenset)
    in_exceptions: bool = False
    # Evidence path -> (exists, refusal reason); many packets share evidence folders.
    evidence_cache: dict[str, tuple[bool, str | None]] = field(default_factory=dict)
    # What the checks of the current packet read besides it (the lint cache re-checks these
    # before reusing its findings). A rule that reads any other file must go through a method
    # here that records it, or list a workspace-wide file in engine.context_files.
    reads: list[list[Any]] = field(default_factory=list)

    def evidence_status(self, value: str) -> tuple[bool, str | None]:
        """Whether a workspace-relative evidence path exists, or why it is refused (recorded)."""
        exists, reason = self.evidence_state(value)
        self.reads.append(["evidence", value, exists, reason])
        return exists, reason

    def evidence_state(self, value: str) -> tuple[bool, str | None]:
        """evidence_status without recording the read."""
        return evidence_state(self.workspace, self.evidence_cache, value)

    def file_state(self, path: Path) -> list[int] | None:
        """The identity of a file a rule reads for this packet (None if absent), recorded so
        that a change to the file re-checks the packet."""
        state = file_state(path)
        self.reads.append(["file", str(path), state])
        return state

    def now(self) -> datetime:
        """The current time, for a rule whose answer depends on it (recorded: the lint cache
        never reuses such a packet's findings)."""
        self.reads.append(["clock"])
        return now_utc()

    def reads_unchanged(self, reads: Any) -> bool:
        """Whether every recorded read would give the same answer now."""
        return reads_unchanged(self.workspace, self.evidence_cache, reads)


def evidence_state(workspace: Workspace, memo: dict[str, tuple[bool, str | None]],
                   value: str) -> tuple[bool, str | None]:
    """Whether a workspace-relative evidence path exists, or why it is refused (remembered in
    `memo` for the run: many packets share evidence files)."""
    cached = memo.get(value)
    if cached is None:
        real, reason = resolve_inside(workspace, value)
        cached = (real is not None and os.path.exists(real), reason)
        memo[value] = cached
    return cached


def reads_unchanged(workspace: Workspace, memo: dict[str, tuple[bool, str | None]],
                    reads: Any) -> bool:
    """Whether every read a packet's checks recorded would give the same answer now (without
    loading the runbook: a warm run needs none)."""
    if not isinstance(reads, list):
        return False
    for read in reads:
        if not isinstance(read, list) or not read:
            return False
        if read[0] == "evidence" and len(read) == 4 and isinstance(read[1], str):
            state = memo.get(read[1]) or evidence_state(workspace, memo, read[1])
            if not (state[0] == read[2] and state[1] == read[3]):
                return False
        elif read[0] == "file" and len(read) == 3 and isinstance(read[1], str):
            if file_state(Path(read[1])) != read[2]:
                return False
        else:  # the clock, or a read of a kind this version does not know
            return False
    return True


def file_state(path: Path) -> list[int] | None:
    """A file's identity (size, mtime, ctime, inode, device), or None when it is absent."""
    from ..cache import file_identity

    try:
        return file_identity(os.stat(path))
    except (OSError, ValueError):
        return None


def unanswered(value: Any) -> str | None:
    """Why a free-text answer does not answer its question, or None when it does."""
    if value is None:
        return "is empty"
    if not isinstance(value, str):
        return None  # the schema rule reports a wrong type
    return _unanswered_text(value)


_NOT_TEXT = re.compile(r"[^\w\s/?.-]")


@lru_cache(maxsize=4096)  # packets repeat their risks and answers
def _unanswered_text(value: str) -> str | None:
    folded = " ".join(_NOT_TEXT.sub(" ", value.casefold()).split()).strip(" .!")
    if not folded:
        return "is empty"
    if PLACEHOLDER.fullmatch(value.strip()):
        return None  # H603 reports unfilled placeholders
    if folded in VAGUE:
        return f"'{value.strip()}' does not answer the question"
    if VAGUE_OPENERS.match(folded) and len(folded.split()) <= 4:
        return f"'{value.strip()}' asks for a review instead of answering the question"
    return None


# The lines git writes around an unresolved merge conflict ('=======' alone is also a Markdown
# heading underline, so only the opening, base and closing markers count).
CONFLICT_MARKER = re.compile(r"^(<{7}|\|{7}|>{7})(?:[ \t][^\n]*)?\r?$", re.MULTILINE)


def conflict_marker_issues(text: str) -> list[Issue]:
    """H113: one issue per unresolved git conflict (at its '<<<<<<<' line, else its first
    marker)."""
    issues: list[Issue] = []
    opened = False
    for match in CONFLICT_MARKER.finditer(text):
        marker = match.group(1)
        if marker.startswith("<"):
            opened = True
        elif opened or issues:
            if marker.startswith(">"):
                opened = False
            continue
        line = text.count("\n", 0, match.start()) + 1
        issues.append(Issue("H113", (), f"git conflict marker '{marker}': the file has an "
                            "unresolved merge conflict; keep one side and remove the markers",
                            line=line))
    return issues


def check_conflict_markers(packet: Packet, ctx: LintContext) -> Iterator[Issue]:
    """H113: git conflict markers (in the body, where they still parse)."""
    text = packet.text
    if "<<<<<<<" in text or "|||||||" in text or ">>>>>>>" in text:
        yield from conflict_marker_issues(text)


def check_schema(packet: Packet, ctx: LintContext) -> Iterator[Issue]:
    """H201: the packet JSON Schema."""
    from ..schema import fast_is_valid, packet_validator

    if fast_is_valid("packet", packet.data):
        return
    for error in packet_validator().iter_errors(packet.data):
        path = tuple(error.absolute_path)
        where = _dotted(path)
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else error.message
            if ctx.in_exceptions and not path and missing in EXCEPTION_OPTIONAL:
                continue  # an unplanned failure waits for a fix, not for a choice
            yield Issue("H201", path, f"required key '{missing}' is missing"
                        + (f" in {where}" if where else ""))
        else:
            yield Issue("H201", path, f"{where or 'packet'}: {_short(error.message)}")


def check_recommended(packet: Packet, ctx: LintContext) -> Iterator[Issue]:
    """H202: the keys a full (not lightweight) packet carries."""
    for key in RECOMMENDED_FIELDS:
        if key not in packet.data:
            yield Issue("H202", (), f"'{key}' is missing")


def check_questions(packet: Packet, ctx: LintContext) -> Iterator[Issue]:
    """H301-H308: the four questions every packet answers."""
    data = packet.data
    for code, key, question in (
        ("H301", "agentGoal", "the goal of the run"),
        ("H302", "triggerReason", "why the agent handed off"),
        ("H306", "agentNextActionAfterDecision", "what the agent does after the decision"),
    ):
        if key in data:
            reason = unanswered(data[key])
            if reason:
                yield Issue(code, (key,), f"{key} ({question}) {reason}")
    evidence = data.get("evidence")
    if "evidence" in data and (evidence is None or evidence == {} or evidence == []):
        yield Issue("H303", ("evidence",), "evidence is empty: list what the agent read")
    options = data.get("options")
    if "options" in data and not options:
        yield Issue("H304", ("options",), "options is empty: offer what the owner may decide")
    if isinstance(options, list):
        yield from _option_issues(options)


def _option_issues(options: list[Any]) -> Iterator[Issue]:
    seen: dict[str, int] = {}
    for index, option in enumerate(options):
        if not isinstance(option, dict):
            continue
        label = option.get("label")
        name = f"option '{label}'" if isinstance(label, str) else f"option {index + 1}"
        if "risk" not in option:
            yield Issue("H305", ("options", index), f"{name} has no risk")
        else:
            reason = unanswered(option.get("risk"))
            if reason:
                yield Issue("H305", ("options", index, "risk"), f"risk of {name} {reason}")
        if isinstance(label, str) and _label_position(label) is not None:
            yield Issue("H308", ("options", index, "label"),
                        f"{name} is a number, and a number chooses an option by its position "
                        f"('--option {visible_key(label)}' would mean option "
                        f"{visible_key(label)}, not this one): give it a label in words")
        if isinstance(label, str):
            folded = _label_key(label)  # "approve" and "approve\u200b" look the same
            if folded in seen:
                yield Issue("H307", ("options", index, "label"),
                            f"{name} repeats option {seen[folded] + 1}")
            seen.setdefault(folded, index)


@lru_cache(maxsize=4096)  # packets of one type offer the same labels
def _label_key(label: str) -> str:
    return visible_key(label)


@lru_cache(maxsize=64)
def _folded_responses(responses: tuple[str, ...]) -> frozenset[str]:
    return frozenset(r.casefold() for r in responses)


@lru_cache(maxsize=4096)
def _label_position(label: str) -> int | None:
    return option_position(label)


def check_evidence(packet: Packet, ctx: LintContext) -> Iterator[Issue]:
    """H401-H404: evidence exists inside the workspace; none is opened, only stat-ed."""
    for name, value in evidence_entries(packet.data):
        keypath: KeyPath = ("evidence", name)
        if URL.match(value):
            continue
        if not value.strip():
            yield Issue("H401", keypath, f"evidence '{name}' has an empty path")
            continue
        if PLACEHOLDER.fullmatch(value.strip()):
            continue  # H603 reports it
        exists, reason = ctx.evidence_status(value)
        if reason == "is absolute":
            yield Issue("H402", keypath, f"evidence path '{value}' is absolute; "
                        "use a path relative to the workspace root")
        elif reason is not None:
            yield Issue("H403", keypath, f"evidence path '{value}' {reason}; it is never opened")
        elif not exists:
            yield Issue("H401", keypath, f"evidence '{name}' not found: '{value}'")
    handoff_type = ctx.runbook.types.get(str(packet.data.get("handoffType")))
    evidence = packet.data.get("evidence")
    if handoff_type and isinstance(evidence, dict) and evidence:
        for required in handoff_type.required_evidence:
            if required not in evidence:
                yield Issue("H404", ("evidence",), f"evidence '{required}' is required for "
                            f"{handoff_type.name} by the runbook")


def check_runbook(packet: Packet, ctx: LintContext) -> Iterator[Issue]:
    """H501-H505: type, role, routing, responses and exception triggers from the runbook."""
    data, runbook = packet.data, ctx.runbook
    type_name = data.get("handoffType")
    handoff_type = runbook.types.get(type_name) if isinstance(type_name, str) else None
    if isinstance(type_name, str) and handoff_type is None:
        yield Issue("H501", ("handoffType",), f"unknown handoff type '{type_name}' (runbook has: "
                    f"{', '.join(sorted(runbook.types))})")
    owner = data.get("ownerRole")
    if isinstance(owner, str) and owner not in runbook.roles:
        yield Issue("H502", ("ownerRole",), f"unknown role '{owner}' (runbook has: "
                    f"{', '.join(sorted(runbook.roles))})")
    elif isinstance(owner, str) and handoff_type is not None:
        routed = runbook.route_for(handoff_type.name, data)
        if routed and routed != owner:
            yield Issue("H503", ("ownerRole",), f"ownerRole '{owner}' differs from the runbook's "
                        f"owner '{routed}' for {handoff_type.name} (run 'handoff route')")
    if handoff_type is not None and isinstance(data.get("options"), list):
        allowed = _folded_responses(handoff_type.responses)
        for index, option in enumerate(data["options"]):
            label = option.get("label") if isinstance(option, dict) else None
            if isinstance(label, str) and label.strip().casefold() not in allowed:
                yield Issue("H504", ("options", index, "label"), f"option '{label}' is not a "
                            f"response the runbook allows for {handoff_type.name}: "
                            f"{', '.join(handoff_type.responses)}")
    trigger = runbook.exception_trigger_for(data.get("triggerReason"))
    if trigger is not None:
        yield Issue("H505", ("triggerReason",), f"trigger is an unplanned failure "
                    f"({trigger.name}); it belongs in the exception queue (run 'handoff route')")


def check_identity(packet: Packet, ctx: LintContext) -> Iterator[Issue]:
    """H602: the file is named after its runId."""
    run_id = packet.run_id
    if run_id is not None and packet.path.stem != run_id:
        yield Issue("H602", ("runId",), f"runId '{run_id}' differs from the file name "
                    f"'{packet.path.name}' (expected {run_id}{packet.path.suffix})")


def check_placeholders(packet: Packet, ctx: LintContext) -> Iterator[Issue]:
    """H603: template placeholders left in values or the body."""
    # Every value's text is in the file as it is unless a JSON or YAML escape wrote it.
    source = packet.text if packet.kind == "json" else packet.text[:packet.yaml_end]
    values = _strings(packet.data, ()) if "$" in source or "\\" in source else ()
    for keypath, text in values:
        for match in PLACEHOLDER.finditer(text):
            name = match.group(1) or match.group(2)
            if match.group(0) == text.strip() or name in ctx.template_placeholders:
                yield Issue("H603", keypath, f"unfilled placeholder '{match.group(0)}' in "
                            f"{_dotted(keypath)}")
                break
    if packet.kind == "md" and packet.body and ctx.template_placeholders:  # JSON: a key above
        for match in PLACEHOLDER.finditer(packet.body):
            if (match.group(1) or match.group(2)) in ctx.template_placeholders:
                line = packet.body_line + packet.body.count("\n", 0, match.start())
                yield Issue("H603", (), f"unfilled placeholder '{match.group(0)}' in the body",
                            line)
                break


def check_decision(packet: Packet, ctx: LintContext) -> Iterator[Issue]:
    """H701-H704: a recorded decision is consistent, by a member, and still matches the packet."""
    data = packet.data
    status = data.get("status", "open")
    decision = data.get("decision")
    if status in ("decided", "closed") and not isinstance(decision, dict):
        yield Issue("H704", ("status",), f"status is '{status}' but there is no decision")
        return
    if not isinstance(decision, dict):
        return
    if status == "open":
        where = ("status",) if "status" in data else ("decision",)
        yield Issue("H704", where, "a decision is recorded but status is still 'open'")
    option = decision.get("option")
    if isinstance(option, str) and option not in option_labels(data):
        yield Issue("H701", ("decision", "option"), f"decision option '{option}' is not one of "
                    f"the packet's options: {', '.join(option_labels(data)) or 'none'}")
    by = decision.get("by")
    moment = parse_iso(decision.get("at"))
    if status == "decided" and not isinstance(option, str):
        yield Issue("H704", ("decision",), "status is 'decided' but the decision names no option")
    if isinstance(by, str):
        authority = authority_for(ctx.runbook, data, moment or ctx.now())
        if authority.problem is None and not authority.admits(ctx.runbook, by):
            yield Issue("H702", ("decision", "by"), f"'{by}' is not a member of the owner role "
                        f"'{authority.owner}'" + (" or a role above it" if len(authority.roles) > 1
                                                  else ""))
    digest = decision.get("digest")
    if isinstance(digest, str) and digest != content_digest(packet):
        yield Issue("H703", ("decision", "digest"), "the packet was edited after the decision: "
                    "its content no longer matches the digest the reviewer saw")


def check_managed(packet: Packet, ctx: LintContext) -> Iterator[Issue]:
    """H705-H707: managed keys an agent may not set agree with the history and the runbook."""
    data = packet.data
    for key in ("createdAt", "dueBy"):
        # A time no one can read would exempt the packet from its due time and escalation.
        if key in data and parse_iso(data[key]) is None:
            value = data[key]
            shown = f"'{value[:60]}'" if isinstance(value, str) else f"(a {type(value).__name__})"
            yield Issue("H707", (key,), f"{key} {shown} is not a timestamp (ISO 8601 within "
                        "the calendar); 'handoff route' repairs it")
    due, latest = parse_iso(data.get("dueBy")), runbook_due(ctx.runbook, data)
    if due is not None and latest is not None and due > latest:
        yield Issue("H705", ("dueBy",), f"dueBy {data.get('dueBy')} is later than the runbook "
                    f"allows ({iso(latest)}: createdAt or the last escalation plus the type's "
                    "timeToDecide)")
    claimed = data.get(ESCALATED_KEY)
    if claimed is not None and recorded_escalation(data) is None:
        yield Issue("H706", (ESCALATED_KEY,), f"escalatedTo '{claimed}' has no matching "
                    "'escalated' history event: only 'handoff route --escalate' escalates")


def check_signature(packet: Packet, ctx: LintContext) -> Iterator[Issue]:
    """H801-H802: with decisions.signatures on, each recorded decision verifies."""
    signatures = ctx.workspace.settings.signatures
    decision = packet.data.get("decision")
    if signatures == "off" or not isinstance(decision, dict):
        return
    from ..signing import verdict_of

    verdict = verdict_of(ctx.workspace, packet)
    if verdict.state == "unsigned" and signatures == "required":
        yield Issue("H801", ("decision",), "the decision is not signed, and "
                    "decisions.signatures is required")
    elif verdict.state == "invalid":
        where: KeyPath = ("decision", "signature") if "signature" in decision else ("decision",)
        yield Issue("H802", where, f"the decision does not verify: {verdict.reason}")


def _strings(value: Any, keypath: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    if isinstance(value, str):
        yield keypath, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in ("history", "decision"):
                yield from _strings(item, (*keypath, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*keypath, index))


def _dotted(keypath: KeyPath) -> str:
    out = ""
    for part in keypath:
        out += f"[{part + 1}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(message: str, limit: int = 160) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


Check = Callable[[Packet, LintContext], Iterator[Issue]]
CHECKS: tuple[Check, ...] = (
    check_conflict_markers, check_schema, check_recommended, check_questions, check_evidence,
    check_runbook, check_identity, check_placeholders, check_decision, check_managed,
    check_signature,
)
