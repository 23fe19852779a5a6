"""The functions agents and the CLI call: init, create, find and lint packets.

Everything here returns values or raises HandoffError; nothing prints, prompts or exits.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, UsageError
from .packet import RUN_ID, LoadFailure, Packet
from .timeutil import iso, now_utc
from .workspace import (
    CONFIG_NAME,
    Workspace,
    find_packet_file,
    resolve_packet_path,
)

PACKAGE_DIR = Path(__file__).parent
STRING_KEYS = frozenset({"runId", "handoffType", "agentGoal", "triggerReason", "ownerRole",
                         "agentNextActionAfterDecision"})
# The packet's own keys: given with --set, each is always written as a key, never taken as a
# mere template placeholder fill (even when the template uses `$runId` only in its body).
PACKET_KEYS = STRING_KEYS | {"evidence", "options"}
_PLACEHOLDER = re.compile(r"\$(?:([_A-Za-z][_A-Za-z0-9]*)|\{([_A-Za-z][_A-Za-z0-9]*)\})")
# `key: $name` or `- $name` as a whole YAML value (optionally followed by a comment).
_WHOLE_VALUE = re.compile(
    r"(?m)^([ \t]*(?:-[ \t]+)?(?:[^\s#:][^:#\n]*:[ \t]+)?)"  # indent, "- ", "key: "
    r"\$(?:([_A-Za-z]\w*)|\{([_A-Za-z]\w*)\})"  # $name or ${name}
    r"(?=[ \t]*(?:#.*)?\r?$)"  # then only a comment
)

WORKSPACE_CONFIG = """\
# handoff workspace settings. See README.md, "Configuration".
version: 1
paths:
  runbook: runbooks/default.yaml   # roles, members, handoff types, exception triggers
  templates: templates             # one <handoffType>.md template per type
  packets: packets                 # the review queue: <runId>.md or <runId>.json
  exceptions: exceptions           # the exception queue: unplanned failures
packetFormat: md                   # form of new packets: md or json
lint:
  maxFileBytes: 1048576            # larger packet files are refused (H103)
  # Set any rule, by id or name, to error, warning or off. A small team whose
  # packets carry only runId, triggerReason, evidence, options and ownerRole:
  #   H202: warning
  rules: {}
  # ignore: {"packets/legacy/*": [H202]}   # rules to skip by path (see "Suppressing findings")
  # fileSuppressions: false                # refuse "# handoff: disable=" comments in packets
"""


def defaults_dir(kind: str) -> Path:
    """The shipped default runbooks/ or templates/ (in the wheel, or the source checkout)."""
    for candidate in (PACKAGE_DIR / "_defaults" / kind, PACKAGE_DIR.parent / kind):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"the packaged default {kind}/ are missing; reinstall handoff-cli")


def init_workspace(directory: Path) -> list[Path]:
    """Scaffold a workspace in `directory`; return the files and folders created (never
    overwrites an existing file, never creates or writes through a symlink leading out of
    `directory`: WorkspaceError, exit 2, naming it)."""
    from .store import create_inside, ensure_folder

    created: list[Path] = []
    if directory.exists() and not directory.is_dir():
        raise UsageError("is not a directory", directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the workspace folder: {exc.strerror or exc}",
                         directory) from None
    real_root = os.path.realpath(directory)

    def place(relative: str, text: str) -> None:
        if create_inside(real_root, directory / relative, text.encode("utf-8"), relative):
            created.append(directory / relative)

    place(CONFIG_NAME, WORKSPACE_CONFIG)
    for kind in ("runbooks", "templates"):
        for source in sorted(defaults_dir(kind).iterdir()):
            if source.is_file() and not source.name.startswith("."):
                place(f"{kind}/{source.name}", source.read_text(encoding="utf-8"))
    for folder in ("packets", "exceptions"):
        if ensure_folder(real_root, directory / folder, folder):
            created.append(directory / folder)
    place(".handoff/.gitignore", "*\n")
    return created


def resolve_identity(explicit: str | None = None) -> str | None:
    """Who is acting: --as, then $HANDOFF_USER, then `git config user.email`."""
    if explicit and explicit.strip():
        return explicit.strip()
    env = os.environ.get("HANDOFF_USER", "").strip()
    if env:
        return env
    git = shutil.which("git")
    if git is None:
        return None
    try:
        result = subprocess.run([git, "config", "user.email"], capture_output=True, text=True,
                                timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


@dataclass(frozen=True)
class NewPacket:
    """What `create_packet` made (`queue` is "packets", or "exceptions" for a trigger that is an
    unplanned failure; `hook_problems` are hooks that failed, the packet is written anyway)."""

    path: Path
    run_id: str
    owner_role: str
    warnings: tuple[str, ...] = ()
    queue: str = "packets"
    hook_problems: tuple[str, ...] = ()
    replaced: Path | None = None  # new --replaces: the returned packet it closed


@dataclass
class PacketInput:
    """Everything an agent may give `handoff new`, merged in this order of precedence:
    from_json, then values (--set), then evidence (--evidence), then options (--option); `body`
    (--body, else the JSON's "body") replaces the template's Markdown narrative."""

    from_json: Mapping[str, Any] | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    evidence: Mapping[str, str] = field(default_factory=dict)
    options: Sequence[Mapping[str, str]] = ()
    body: str | None = None


def parse_assignment(text: str, flag: str) -> tuple[str, str]:
    """Split KEY=VALUE; raise UsageError naming the flag otherwise."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"{flag} expects KEY=VALUE, got '{text}'")
    return key.strip(), value


def parse_value(key: str, raw: str) -> Any:
    """A --set value: JSON when it parses as JSON (numbers, true, lists), else the string;
    the packet's text keys always stay strings."""
    if key in STRING_KEYS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def merge_input(
    type_name: str, given: PacketInput, fills: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The packet keys an agent supplied, in one mapping (`fills` name --set values that only
    fill template placeholders and are not keys)."""
    data: dict[str, Any] = dict(given.from_json or {})
    declared = data.get("handoffType")
    if declared is not None and declared != type_name:
        raise UsageError(f"the JSON packet is a '{declared}' handoff, not '{type_name}'")
    for key, value in given.values.items():
        if key in fills:
            continue
        head, _, tail = key.partition(".")
        if tail:
            inner = data.get(head)
            data[head] = {**(inner if isinstance(inner, dict) else {}), tail: value}
        else:
            data[key] = value
    if given.evidence:
        data["evidence"] = dict(given.evidence)
    if given.options:
        data["options"] = [dict(option) for option in given.options]
    return data


def refuse_managed_keys(data: Mapping[str, Any]) -> None:
    """An agent may not set the keys handoff manages (status, createdAt, dueBy, escalatedTo,
    decision, history, outcome): a packet must not arrive already decided or escalated."""
    from .packet import MANAGED_KEYS

    given = sorted(key for key in data if key in MANAGED_KEYS)
    if given:
        raise UsageError(f"{', '.join(repr(k) for k in given)} "
                         f"{'is a key' if len(given) == 1 else 'are keys'} that handoff manages; "
                         "an agent may not set them with --set or --from-json")


def create_packet(workspace: Workspace, type_name: str, given: PacketInput,
                  identity: str | None = None, now: datetime | None = None,
                  fmt: str | None = None, strict: bool = False,
                  extra_history: Sequence[Mapping[str, Any]] = (),
                  event: str = "created", vet: Callable[[Path, str], None] | None = None,
                  replaces: str | None = None, exception: bool = False) -> NewPacket:
    """Scaffold a packet from the type's template, route its owner and write it atomically.

    A trigger that is an unplanned failure (a runbook exception trigger) goes straight into
    the exception queue; `exception` files it there in any case, without the type's template
    (an unplanned failure offers no options: MCP's report_exception). Without a runId one is
    made from the type and the time, with a -2, -3... suffix when that name is taken.
    `strict` refuses (NotCleanError, nothing written) a packet that would not lint clean;
    `vet` may refuse the text before it is written. `extra_history` goes before the created
    event (`new --replaces`).
    """
    from .hooks import notify

    runbook = workspace.runbook
    handoff_type = runbook.types.get(type_name)
    if handoff_type is None:
        raise UsageError(f"unknown handoff type '{type_name}'; the runbook has: "
                         f"{', '.join(sorted(runbook.types))}")
    now = now or now_utc()
    template = "---\n---\n" if exception else template_text(workspace, handoff_type.name)
    fills = fill_only_names(template, given.values)
    data = merge_input(type_name, given, fills)
    refuse_managed_keys(data)
    fmt = fmt or workspace.settings.packet_format
    body = given.body
    if body is None and fmt == "md" and isinstance(data.get("body"), str):
        body = data.pop("body")  # a Markdown packet keeps its narrative as the body
    check_body(body)
    warnings: list[str] = []
    explicit = data.get("runId")
    if explicit is not None and (not isinstance(explicit, str) or not RUN_ID.match(explicit)):
        raise UsageError(f"runId '{explicit}' must be 1-128 letters, digits, '.', '_' or '-'")
    owner = runbook.route_for(type_name, data) or handoff_type.owner
    if data.get("ownerRole") not in (None, owner):
        warnings.append(f"ownerRole '{data['ownerRole']}' replaced by the runbook's owner "
                        f"'{owner}' for {type_name}")
    trigger = runbook.exception_trigger_for(data.get("triggerReason"))
    to_exceptions = exception or trigger is not None
    folder = workspace.exceptions_dir if to_exceptions else workspace.packets_dir
    created: dict[str, Any] = {"event": "created", "at": iso(now), "by": identity or "agent"}
    if replaces is not None:
        created["replaces"] = replaces
    if trigger is not None:
        created["trigger"] = trigger.name
    if trigger is not None and not exception:
        warnings.append(f"the trigger is an unplanned failure ({trigger.name}): filed in the "
                        f"exception queue, {workspace.settings.exceptions}/")
    data.update({
        "handoffType": type_name, "ownerRole": owner, "status": "open",
        "createdAt": iso(now), "dueBy": iso(now + handoff_type.time_to_decide),
        "history": [*(dict(e) for e in extra_history), created],
    })
    if replaces is not None:
        data["replaces"] = replaces
    base = explicit or f"{type_name.replace('_', '-')}-{now:%Y-%m-%d-%H%M%S}"
    path = claim_new_file(workspace, folder, base, fmt, explicit is not None,
                          lambda run_id: packet_text(workspace, template, fills, given, data,
                                                     run_id, fmt, body, handoff_type.template),
                          strict, vet)
    made = NewPacket(path=path, run_id=path.stem, owner_role=owner, warnings=tuple(warnings),
                     queue="exceptions" if to_exceptions else "packets")
    problems = notify(workspace, event, path, created)
    return replace(made, hook_problems=problems)


def check_size(text: str, limit: int, what: Path | str) -> None:
    """Refuse (exit 2) a packet, or an input for one, larger than the workspace's packet size
    bound (`lint.maxFileBytes`, H103), which every command enforces when loading a packet:
    such a packet could never be opened. `what` names the input or the file."""
    # Each character is 1-4 bytes in UTF-8: only text near the bound needs encoding.
    if len(text) > limit or (len(text) * 4 > limit and len(text.encode("utf-8")) > limit):
        raise UsageError(f"larger than the {limit}-byte packet size limit (lint.maxFileBytes); "
                         "nothing written", what)


def check_body(body: str | None) -> None:
    """Refuse a narrative that would make the packet file unreadable (a NUL byte: H104)."""
    if body is not None and "\x00" in body:
        raise UsageError("the body contains a NUL byte; a packet must be text")


def packet_text(workspace: Workspace, template: str, fills: frozenset[str], given: PacketInput,
                data: Mapping[str, Any], run_id: str, fmt: str, body: str | None,
                template_name: str) -> str:
    """The new packet's text for one runId: the template filled, the keys set."""
    from .editing import EditError, set_keys
    from .packet import split_frontmatter

    data = {**data, "runId": run_id}
    names = placeholder_names(template)
    filled = fill_placeholders(template, {k: v for k, v in given.values.items() if k in names},
                               data)
    if fmt == "json":
        merged = {**template_data(filled), **data}
        if body is not None:
            merged["body"] = body
        return json.dumps(merged, indent=2, ensure_ascii=False) + "\n"
    if body is not None:
        _, _, body_start, _ = split_frontmatter(filled)
        filled = filled[:body_start] + body + ("" if body.endswith("\n") or not body else "\n")
    try:
        return set_keys(filled, "md", data)
    except EditError as exc:
        raise ConfigError(f"template cannot be filled: {exc}",
                          workspace.templates_dir / template_name) from None


def claim_new_file(workspace: Workspace, folder: Path, base: str, fmt: str, explicit: bool,
                   text_for: Callable[[str], str], strict: bool = False,
                   vet: Callable[[Path, str], None] | None = None) -> Path:
    """Create <runId>.<fmt> in `folder` exclusively, under the runId's lock: an explicit runId
    that exists anywhere in the queues is a ConflictError; an automatic one moves on to
    base-2, base-3... until a name is free. Returns the new file."""
    from .errors import ConflictError, NotCleanError
    from .store import create_new, packet_lock

    for attempt in range(1, 1000):
        run_id = base if attempt == 1 else f"{base[:120]}-{attempt}"
        with packet_lock(workspace.state_dir, run_id):
            # Any entry named for the runId in either queue, in either form, takes it (a
            # dangling symlink or a FIFO too: never written through, never opened).
            existing = name_taken(workspace, run_id)
            if existing is not None:
                if explicit:
                    raise ConflictError(f"a packet with runId '{run_id}' already exists: "
                                        f"{workspace.relative(existing)}")
                continue
            path = folder / f"{run_id}.{fmt}"
            text = text_for(run_id)
            check_size(text, workspace.settings.max_file_bytes,
                       f"the new packet {workspace.relative(path)}")
            if vet is not None:
                vet(path, text)
            if strict:
                from .lint.engine import lint_text

                findings = lint_text(workspace, path, text)
                if any(f.severity == "error" for f in findings):
                    errors = sum(1 for f in findings if f.severity == "error")
                    error = NotCleanError(f"not created: the packet would have {errors} lint "
                                          "error(s) (--strict)")
                    error.findings = tuple(findings)
                    raise error
            try:
                create_new(path, text, workspace.state_dir, workspace.relative(path))
            except ConflictError:  # written by something that does not take the lock
                if explicit:
                    raise ConflictError(f"a packet with runId '{run_id}' already exists: "
                                        f"{workspace.relative(path)}") from None
                continue
            return path
    raise ConflictError(f"no free runId after {base}-999; pass --set runId=...")


def name_taken(workspace: Workspace, run_id: str) -> Path | None:
    """The directory entry that holds <runId>.md or .json in packets/ or exceptions/, whatever
    kind of file it is (a dangling symlink included), if any."""
    from .workspace import PACKET_SUFFIXES

    for folder in (workspace.packets_dir, workspace.exceptions_dir):
        for suffix in PACKET_SUFFIXES:
            candidate = folder / f"{run_id}{suffix}"
            if os.path.lexists(candidate):
                return candidate
    return None


def template_text(workspace: Workspace, type_name: str) -> str:
    """The type's template, or a bare frontmatter when the workspace has none for it (a
    template that leads outside templates/, is no regular file or is too large: exit 2)."""
    text = workspace.template_text(type_name)
    return "---\n---\n" if text is None else text


def template_data(template: str) -> dict[str, Any]:
    """The template's frontmatter keys (parsed with python-frontmatter's safe YAML handler)."""
    import frontmatter

    try:
        metadata = frontmatter.loads(template).metadata
    except Exception as exc:  # the library raises yaml and ValueError alike
        raise ConfigError(f"template frontmatter is not valid YAML: {exc}") from None
    return dict(metadata)


def fill_only_names(template: str, values: Mapping[str, Any]) -> frozenset[str]:
    """The --set names that only fill a placeholder inside the template's frontmatter (like
    `risk: $approveRefundRisk`) and so are not written as keys of their own. Every other
    --set KEY is a key: one the template does not use, uses only in its body, or has as a key
    itself, and always the packet's own keys (runId, agentGoal, evidence...)."""
    from .packet import split_frontmatter

    try:
        _, _, body_start, _ = split_frontmatter(template)
    except LoadFailure:
        return frozenset()  # fill_placeholders reports the broken template
    names = placeholder_names(template[:body_start])
    template_keys = set(template_data(template))
    return frozenset(k for k in values
                     if k in names and k not in template_keys and k not in PACKET_KEYS)


def placeholder_names(template: str) -> set[str]:
    """The $placeholder names a template uses."""
    return {m.group(1) or m.group(2) for m in _PLACEHOLDER.finditer(template)}


def fill_placeholders(template: str, fills: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    """Fill whole-value $placeholders in the frontmatter with `fills` (YAML-quoted), and the
    body's $placeholders with `fills` and the packet's top-level text values (as text)."""
    from .packet import split_frontmatter

    try:
        _, _, body_start, _ = split_frontmatter(template)
    except LoadFailure as failure:
        raise ConfigError(f"template: {failure.message}") from None

    def quoted(match: re.Match[str]) -> str:
        name = match.group(2) or match.group(3)
        if name not in fills:
            return match.group(0)
        return match.group(1) + json.dumps(fills[name], ensure_ascii=False)

    head = _WHOLE_VALUE.sub(quoted, template[:body_start])
    scalars = {k: str(v) for k, v in {**data, **fills}.items()
               if isinstance(v, (str, int, float)) and not isinstance(v, bool)}
    return head + Template(template[body_start:]).safe_substitute(scalars)


def get_packet(workspace: Workspace, ref: str) -> Packet:
    """Load a packet by path or runId; a file that does not load is a PacketError."""
    from .review import load

    return load(workspace, ref)


def lint(workspace: Workspace, paths: Sequence[Path] = (), *, use_cache: bool = True) -> list[Any]:
    """Lint packets (default: the whole workspace queue); return sorted findings.

    Results are reused from the cache under .handoff/ while nothing they depend on changed;
    use_cache=False checks every file afresh and leaves the cache alone.
    """
    from .lint.engine import lint_paths

    return lint_paths(workspace, paths, use_cache=use_cache)


def lint_by_workspace(paths: Sequence[Path], *, use_cache: bool = True,
                      notes: list[str] | None = None) -> list[Any]:
    """Lint each PATH in its own workspace (the nearest handoff.yaml above it), as pre-commit
    passes them from a repository root; a PATH outside every workspace is one H114 finding.
    `notes` collects why, for each workspace whose .handoff/ cannot hold the cache."""
    from .lint.groups import lint_by_workspace as grouped

    return grouped(paths, use_cache=use_cache, notes=notes)


# The rest of the public API lives in its own modules and is imported on first use, so that
# `handoff lint` does not pay for review, routing and stats at start-up.
_LAZY = {
    "ReviewView": "review", "review": "review",
    "Edited": "agentedit", "edit_packet": "agentedit", "update_packet": "agentedit",
    "Recorded": "decisions", "close": "decisions", "decide": "decisions",
    "return_packet": "decisions",
    "PacketStatus": "agent", "status": "agent", "wait": "agent",
    "Verdict": "signing", "verify_packets": "signing", "verdict_of": "signing",
    "brief_markdown": "brief",
    "withdraw": "lifecycle", "resubmit": "lifecycle", "resolve": "lifecycle",
    "create_replacement": "lifecycle",
    "QueueEntry": "queue", "list_queue": "queue",
    "InboxItem": "inbox", "inbox": "inbox",
    "EvidenceTarget": "review", "evidence_target": "review",
    "RouteChange": "routing", "RouteNote": "routing", "RouteReport": "routing",
    "route_packets": "routing",
    "DecisionTimes": "stats", "Stats": "stats", "queue_stats": "stats",
    "Backoff": "gitsync", "SyncResult": "gitsync", "publish": "gitsync", "pull": "gitsync",
    "sync": "gitsync",
}

if TYPE_CHECKING:
    from .agent import PacketStatus, status, wait
    from .agentedit import Edited, edit_packet, update_packet
    from .brief import brief_markdown
    from .decisions import Recorded, close, decide, return_packet
    from .gitsync import Backoff, SyncResult, publish, pull, sync
    from .inbox import InboxItem, inbox
    from .lifecycle import create_replacement, resolve, resubmit, withdraw
    from .queue import QueueEntry, list_queue
    from .review import EvidenceTarget, ReviewView, evidence_target, review
    from .routing import RouteChange, RouteNote, RouteReport, route_packets
    from .signing import Verdict, verdict_of, verify_packets
    from .stats import DecisionTimes, Stats, queue_stats


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __package__), name)
    globals()[name] = value
    return value


__all__ = [
    "Backoff", "DecisionTimes", "Edited", "EvidenceTarget", "InboxItem", "NewPacket",
    "PacketInput", "PacketStatus", "QueueEntry", "Recorded", "ReviewView", "RouteChange",
    "RouteNote", "RouteReport", "Stats", "SyncResult", "Verdict", "brief_markdown", "close",
    "create_packet", "create_replacement", "decide", "edit_packet", "evidence_target",
    "find_packet_file", "get_packet", "inbox", "init_workspace", "lint", "lint_by_workspace",
    "list_queue", "publish", "pull", "queue_stats", "resolve", "resolve_identity",
    "resolve_packet_path", "resubmit", "return_packet", "review", "route_packets", "status",
    "sync", "update_packet", "verdict_of", "verify_packets", "wait", "withdraw",
]
