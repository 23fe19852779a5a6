"""`handoff mcp`: one workspace as a Model Context Protocol server, so that agents hand decisions
to their owners and pick them up again through tools, with no glue code.

Each tool is a thin call into handoff_cli.api; imported only by the `mcp` command (the `mcp`
extra). There is no decide tool: agents never decide.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import math
import os
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .agentedit import FIXED_KEYS
from .errors import (
    ConflictError,
    HandoffError,
    NotAllowedError,
    NotCleanError,
    UsageError,
    WaitTimeout,
)
from .packet import MANAGED_KEYS as PACKET_MANAGED_KEYS
from .packet import RUN_ID
from .workspace import Workspace, find_packet_file

SERVER_NAME = "handoff"
TOOL_NAMES = ("handoff_brief", "create_handoff", "report_exception", "handoff_status",
              "wait_for_decision", "close_handoff", "update_handoff")
URI_PREFIX = "handoff://packets/"
RUNBOOK_URI = "handoff://runbook"
WAIT_CAP = 600.0  # seconds one wait_for_decision call may block
WAIT_DEFAULT = 60.0
PROGRESS_EVERY = 2.0  # seconds between progress notifications while waiting
WATCH_EVERY = 0.5  # seconds between looks at subscribed packets
# Keys that handoff manages: an agent's packet may not set them (a forged decision, a status).
MANAGED_KEYS = ("status", "createdAt", "dueBy", "decision", "history", "outcome", "escalatedTo")

INSTRUCTIONS = """\
This server hands decisions an agent must not make alone to the person who owns them.
Read handoff_brief first. When you reach such a decision, call create_handoff with a complete
packet (goal, trigger, evidence, options with risks, next action); fix and retry when it
returns lint findings. Then wait_for_decision (repeat while it times out), act on the
decision, and close_handoff with what you did. To change a packet while it waits, call
update_handoff (never rewrite its file). Unplanned failures (a file you could not
read, permission denied) go to report_exception. You cannot decide."""

log = logging.getLogger("handoff.mcp")


# -- errors -------------------------------------------------------------------------------------


ERROR_KINDS: tuple[tuple[type[HandoffError], str], ...] = (
    (NotCleanError, "lint"),
    (WaitTimeout, "timeout"),
    (ConflictError, "conflict"),
    (NotAllowedError, "not_allowed"),
)


def error_payload(exc: HandoffError) -> dict[str, Any]:
    """The structured form of a refusal: its kind, the CLI's exit code, the message and (for
    lint) each finding."""
    kind = next((name for cls, name in ERROR_KINDS if isinstance(exc, cls)), None)
    if kind is None:
        kind = "usage" if exc.exit_code == 2 else "failed"
    error: dict[str, Any] = {"kind": kind, "exitCode": exc.exit_code, "message": str(exc)}
    if isinstance(exc, NotCleanError):
        error["findings"] = [f.as_dict() for f in exc.findings]
    return error


def error_text(error: Mapping[str, Any]) -> str:
    """The refusal as text an agent reads: one line, then one line per lint finding."""
    from .textsafe import safe_text

    lines = [f"error ({error['kind']}, exit {error['exitCode']}): {error['message']}"]
    for f in error.get("findings", ()):
        lines.append(f"{f['path']}:{f['line']}:{f['column']}: {f['rule']} {f['message']}")
    return "\n".join(safe_text(line) for line in lines)


# -- schemas ------------------------------------------------------------------------------------


def packet_schema() -> dict[str, Any]:
    """The shipped packet JSON Schema."""
    text = (Path(__file__).parent / "schema" / "packet.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _type_line(workspace: Workspace, name: str) -> str:
    t = workspace.runbook.types[name]
    parts = [f"{name} ({t.category}; decided by {t.owner}"]
    if t.required_evidence:
        parts.append(f"; evidence required: {', '.join(t.required_evidence)}")
    parts.append(f"; option labels: {' | '.join(t.responses)})")
    if t.description:
        parts.append(f": {t.description}")
    return "".join(parts)


def packet_input_schema(workspace: Workspace, exception: bool = False) -> dict[str, Any]:
    """The packet an agent passes to create_handoff (or report_exception), derived from the
    packet schema and the runbook: types as an enum, each type's required evidence and option
    labels as per-type rules and descriptions, required keys as this workspace's lint settings
    demand. Managed keys are left out (and refused)."""
    from .lint.engine import severity_of

    def enforced(code: str) -> bool:
        return severity_of(workspace, code) == "error"

    base = packet_schema()
    runbook = workspace.runbook
    types = list(runbook.types)
    props = {k: copy.deepcopy(v) for k, v in base["properties"].items()
             if k not in MANAGED_KEYS and k != "ownerRole"}
    props["handoffType"] = {
        "type": "string", "enum": types,
        "description": "The runbook's handoff type:\n" + "\n".join(
            f"- {_type_line(workspace, name)}" for name in types),
    }
    props["runId"]["description"] += " Optional: made from the type and the time when left out."
    triggers = "; ".join(f"{t.name}: {', '.join(repr(p) for p in t.phrases)}"
                         for t in runbook.exception_triggers)
    # A key is required when the lint rule that demands it is an error in this workspace.
    demands = [("H302", "triggerReason"), ("H303", "evidence")]
    if exception:
        props["triggerReason"]["description"] = (
            "What failed, plainly (an unplanned failure: file read failed, missing source, "
            f"output schema invalid, permission denied). The runbook's triggers: {triggers}.")
    else:
        props["triggerReason"]["description"] += (
            " A trigger that is an unplanned failure goes to the exception queue instead; "
            f"the runbook's exception triggers: {triggers}.")
        demands += [("H304", "options"), ("H202", "agentGoal"),
                    ("H202", "agentNextActionAfterDecision")]
    required = ["handoffType", *(key for code, key in demands if enforced(code))]
    schema: dict[str, Any] = {
        "type": "object", "properties": props, "required": required,
        "additionalProperties": True,
        "description": "A handoff packet (the keys of `handoff schema`). handoff sets ownerRole "
                       "(routed by the runbook), status, createdAt, dueBy and history; "
                       "decision and outcome may not be given. It is checked by `handoff "
                       "lint` before it is written.",
    }
    rules = []
    for name, t in runbook.types.items():
        then: dict[str, Any] = {"properties": {}}
        if t.required_evidence and enforced("H404") and not exception:
            then["properties"]["evidence"] = {"required": list(t.required_evidence)}
        if enforced("H504") and not exception:
            then["properties"]["options"] = {"items": {"properties": {
                "label": {"enum": list(t.responses)}}}}
        if then["properties"]:
            rules.append({"if": {"properties": {"handoffType": {"const": name}},
                                 "required": ["handoffType"]}, "then": then})
    if rules:
        schema["allOf"] = rules
    return schema


def packet_shape(workspace: Workspace) -> dict[str, Any]:
    """What the server itself checks of a `packet` argument before the API: an object of a
    known type. Everything else is lint's to judge, at this workspace's severities."""
    return {"type": "object", "required": ["handoffType"],
            "properties": {"handoffType": {"enum": list(workspace.runbook.types)}}}


RUN_ID_INPUT = {"type": "string", "pattern": RUN_ID.pattern,
                "description": "The packet's runId (as returned by create_handoff)."}

STATUS_OUTPUT: dict[str, Any] = {
    "type": "object",
    "required": ["runId", "status"],
    "properties": {
        "runId": {"type": "string"},
        "path": {"type": "string", "description": "The packet file, relative to the workspace."},
        "status": {"type": "string",
                   "description": "open, decided, returned, withdrawn or closed."},
        "decision": {"type": ["object", "null"],
                     "description": "option, by, at, note, digest (and missing on a return)."},
        "option": {"type": ["object", "null"],
                   "description": "The chosen option's label and risk."},
        "missing": {"type": "array", "items": {"type": "string"},
                    "description": "On a return: what the owner says is missing."},
        "agentNextActionAfterDecision": {"type": "string"},
        "outcome": {"type": ["string", "null"]},
    },
    "additionalProperties": True,
}

CREATED_OUTPUT: dict[str, Any] = {
    "type": "object",
    "required": ["runId", "path", "ownerRole", "queue"],
    "properties": {
        "runId": {"type": "string"},
        "path": {"type": "string"},
        "ownerRole": {"type": "string", "description": "Who decides, routed by the runbook."},
        "dueBy": {"type": ["string", "null"]},
        "queue": {"type": "string", "enum": ["packets", "exceptions"]},
        "exceptionTrigger": {"type": ["string", "null"]},
        "uri": {"type": "string"},
        "warnings": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": True,
}


EDITED_OUTPUT: dict[str, Any] = {
    "type": "object", "required": ["runId", "changed", "keys", "body", "status"],
    "properties": {"runId": {"type": "string"}, "changed": {"type": "boolean"},
                   "keys": {"type": "array", "items": {"type": "string"}},
                   "body": {"type": "boolean"}, "status": STATUS_OUTPUT},
}


def tool_specs(workspace: Workspace) -> list[dict[str, Any]]:
    """Every tool: name, description, input schema (advertised), check schema (what the server
    refuses before calling the API), output schema and hints."""
    wait_input = {
        "type": "object", "required": ["runId"], "additionalProperties": False,
        "properties": {"runId": RUN_ID_INPUT, "timeout": {
            "type": "number", "minimum": 0, "maximum": WAIT_CAP, "default": WAIT_DEFAULT,
            "description": f"Seconds to wait (at most {WAIT_CAP:g}; 0 checks once). On timeout "
                           "the result is an error of kind 'timeout' with the status: call "
                           "again to keep waiting."}},
    }
    specs: list[dict[str, Any]] = [
        {"name": "handoff_brief", "readOnlyHint": True,
         "description": "The routing rules and packet requirements of this workspace as "
                        "Markdown (what `handoff brief` prints): read it before the run.",
         "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False},
         "outputSchema": {"type": "object", "required": ["brief"],
                          "properties": {"brief": {"type": "string"}}}},
        {"name": "create_handoff", "readOnlyHint": False,
         "description": "Hand a decision you must not make alone to its owner: a packet in, "
                        "its runId, path, owner role and due time out. A packet that would not "
                        "lint clean is not written: the error lists each finding; fix and "
                        "retry. A trigger that is an unplanned failure is filed in the "
                        "exception queue (queue 'exceptions', exceptionTrigger named).",
         "inputSchema": {"type": "object", "required": ["packet"],
                         "additionalProperties": False,
                         "properties": {"packet": packet_input_schema(workspace)}},
         "outputSchema": CREATED_OUTPUT},
        {"name": "report_exception", "readOnlyHint": False,
         "description": "Put an unplanned failure (file read failed, missing source, output "
                        "schema invalid, permission denied) into the exception queue, not the "
                        "review queue.",
         "inputSchema": {"type": "object", "required": ["packet"],
                         "additionalProperties": False,
                         "properties": {"packet": packet_input_schema(workspace, True)}},
         "outputSchema": CREATED_OUTPUT},
        {"name": "handoff_status", "readOnlyHint": True,
         "description": "The packet's status, the decision, the chosen option and the next "
                        "action (the JSON of `handoff status`).",
         "inputSchema": {"type": "object", "required": ["runId"],
                         "additionalProperties": False, "properties": {"runId": RUN_ID_INPUT}},
         "outputSchema": STATUS_OUTPUT},
        {"name": "wait_for_decision", "readOnlyHint": True,
         "description": "Wait until the owner decides or returns the packet, then give its "
                        "status (as handoff_status). Sends progress notifications while "
                        "waiting; cancel the request to stop waiting.",
         "inputSchema": wait_input, "outputSchema": STATUS_OUTPUT},
        {"name": "close_handoff", "readOnlyHint": False,
         "description": "Record what you did after acting on the decision (or the return): "
                        "the packet's status becomes 'closed'.",
         "inputSchema": {"type": "object", "required": ["runId", "outcome"],
                         "additionalProperties": False,
                         "properties": {"runId": RUN_ID_INPUT, "outcome": {
                             "type": "string", "minLength": 1,
                             "description": "What the agent did after the decision."}}},
         "outputSchema": STATUS_OUTPUT},
        {"name": "update_handoff", "readOnlyHint": False,
         "description": "Change your open packet while it waits: set keys (a "
                        "dotted key like evidence.log sets one entry), remove keys, or replace "
                        "the narrative. Done under the packet's lock and refused (conflict) "
                        "when someone wrote it meanwhile: read it and retry. The keys handoff "
                        "manages, runId, handoffType and ownerRole cannot be changed, and a "
                        "decided or returned packet is not edited.",
         "inputSchema": {"type": "object", "required": ["runId"],
                         "additionalProperties": False, "properties": {
                             "runId": RUN_ID_INPUT,
                             "set": {"type": "object", "description": "Keys to set and their "
                                     "values.", "propertyNames": {"not": {"enum": sorted(
                                         {*PACKET_MANAGED_KEYS, *FIXED_KEYS})}}},
                             "unset": {"type": "array", "items": {"type": "string"},
                                       "description": "Keys to remove."},
                             "body": {"type": "string",
                                      "description": "The new narrative for the reviewer."}}},
         "outputSchema": EDITED_OUTPUT},
    ]
    for spec in specs:
        check = copy.deepcopy(spec["inputSchema"])
        if "packet" in check["properties"]:
            check["properties"]["packet"] = packet_shape(workspace)
        spec["checkSchema"] = check
    return specs


def check_arguments(schema: Mapping[str, Any], arguments: Mapping[str, Any], what: str) -> None:
    """Refuse arguments that do not fit the tool's input schema: one UsageError listing each
    problem with its place."""
    from jsonschema import Draft202012Validator

    problems = []
    for error in sorted(Draft202012Validator(schema).iter_errors(arguments),
                        key=lambda e: list(map(str, e.absolute_path))):
        where = ".".join(str(p) for p in error.absolute_path) or what
        problems.append(f"{where}: {error.message}")
    if problems:
        raise UsageError(f"{what} arguments do not fit the input schema: " + "; ".join(problems))


# -- the tools, as plain functions over the API -------------------------------------------------


@dataclass
class Tools:
    """The tool implementations: each a thin call into the API, returning JSON-ready data.

    Like every CLI command, each call reads handoff.yaml and the runbook afresh (`workspace`),
    so that an edit to the runbook applies to the next call of a long-running server."""

    base: Workspace  # as found at start-up: its root and folders
    identity: str | None = None
    pull_gap: float = 2.0  # with git.push: seconds until wait_for_decision fetches again
    last_pull: float | None = None

    def _shared(self, ws: Workspace, write: Callable[[], Any]) -> Any:
        """A write, committed and pushed first when handoff.yaml says git: {push: true}."""
        if not ws.settings.git_push:
            return write()
        from .gitsync import publish

        return publish(ws, write)

    def _pull(self) -> None:
        """With git.push, fetch the shared branch (at most every pull_gap seconds, backing off
        to a minute) so that a decision pushed from another machine arrives."""
        import time

        if not self.workspace.settings.git_push:
            return
        now = time.monotonic()
        if self.last_pull is not None and now - self.last_pull < self.pull_gap:
            return
        from .gitsync import pull

        try:
            pull(self.workspace)
        except HandoffError:
            if self.last_pull is None:
                raise  # a misconfigured clone says so at once; later blips retry
        if self.last_pull is not None:
            self.pull_gap = min(self.pull_gap * 2, 60.0)
        self.last_pull = now

    @property
    def workspace(self) -> Workspace:
        from .workspace import open_workspace

        return open_workspace(self.base.root)

    def handoff_brief(self) -> dict[str, Any]:
        from .brief import brief_markdown

        runbook = self.workspace.runbook
        return {"brief": brief_markdown(runbook, None, self.workspace.relative(runbook.path))}

    def _create(self, packet: Mapping[str, Any], exception: bool) -> dict[str, Any]:
        from .api import PacketInput, create_packet, get_packet

        # The API refuses managed keys, routes the owner, files an unplanned failure in the
        # exception queue, and (strict) writes nothing that would not lint clean.
        ws = self.workspace  # one reading of the workspace for the whole call
        made = self._shared(ws, lambda: create_packet(
            ws, packet["handoffType"], PacketInput(from_json=dict(packet)),
            self.identity or "agent", strict=True, exception=exception))
        trigger = ws.runbook.exception_trigger_for(packet.get("triggerReason"))
        due = get_packet(ws, str(made.path)).data.get("dueBy")
        return {"runId": made.run_id, "path": ws.relative(made.path),
                "ownerRole": made.owner_role, "dueBy": due if isinstance(due, str) else None,
                "queue": made.queue, "exceptionTrigger": trigger.name if trigger else None,
                "uri": URI_PREFIX + made.run_id,
                "warnings": list(made.warnings) + list(made.hook_problems)}

    def create_handoff(self, packet: Mapping[str, Any]) -> dict[str, Any]:
        return self._create(packet, exception=False)

    def report_exception(self, packet: Mapping[str, Any]) -> dict[str, Any]:
        return self._create(packet, exception=True)

    def handoff_status(self, run_id: str) -> dict[str, Any]:
        from .api import status

        return dict(status(self.workspace, run_id).as_dict())

    def wait_slice(self, run_id: str, seconds: float) -> dict[str, Any]:
        """One bounded wait (raises WaitTimeout)."""
        from .api import wait

        self._pull()
        return dict(wait(self.workspace, run_id, seconds).as_dict())

    def close_handoff(self, run_id: str, outcome: str) -> dict[str, Any]:
        from .api import close

        ws = self.workspace
        self._shared(ws, lambda: close(ws, run_id, outcome, self.identity or "agent"))
        return self.handoff_status(run_id)

    def update_handoff(self, run_id: str, values: Mapping[str, Any], unset: list[str],
                       body: str | None) -> dict[str, Any]:
        from .agentedit import update_packet
        from .api import PacketInput

        ws = self.workspace
        done = self._shared(ws, lambda: update_packet(
            ws, run_id, PacketInput(values=dict(values), body=body), self.identity or "agent",
            remove=unset))
        return {"runId": done.run_id, "changed": done.changed, "keys": list(done.keys),
                "body": done.body, "status": self.handoff_status(run_id)}

    def packet_markdown(self, run_id: str) -> str:
        from .api import review
        from .render import review_markdown

        return str(review_markdown(review(self.workspace, run_id)))

    def runbook_text(self) -> str:
        path = self.workspace.runbook.path
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise HandoffError(f"cannot read the runbook: {exc}", path) from None


def run_id_from_uri(uri: str) -> str | None:
    """The runId of a handoff://packets/<runId> URI (None for anything else)."""
    if not uri.startswith(URI_PREFIX):
        return None
    run_id = uri[len(URI_PREFIX):]
    return run_id if RUN_ID.match(run_id) else None


# -- the MCP server -----------------------------------------------------------------------------


@dataclass
class Watch:
    """Who wants to hear that a packet changed: legacy sessions and modern listen streams."""

    sessions: set[Any] = field(default_factory=set)
    listeners: int = 0
    seen: tuple[int, int, int] | None = None


@dataclass
class State:
    """Per-server state: the tools, the subscription bus and the watched packets."""

    tools: Tools
    bus: Any
    watches: dict[str, Watch] = field(default_factory=dict)


def _signature(path: Path | None) -> tuple[int, int, int] | None:
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


async def watch_packets(state: State, every: float = WATCH_EVERY) -> None:
    """Tell subscribers when a watched packet's file changes (polls mtime, size and inode)."""
    import anyio
    from mcp.server.subscriptions import ResourceUpdated

    while True:
        for uri, watch in list(state.watches.items()):
            if not watch.sessions and watch.listeners <= 0:
                state.watches.pop(uri, None)
                continue
            run_id = run_id_from_uri(uri)
            path = find_packet_file(state.tools.base, run_id) if run_id else None
            signature = _signature(path)
            if signature == watch.seen:
                continue
            watch.seen = signature
            for session in list(watch.sessions):
                try:
                    await session.send_resource_updated(uri)
                except Exception:  # a closed session stops listening
                    watch.sessions.discard(session)
            if watch.listeners > 0:
                await state.bus.publish(ResourceUpdated(uri=uri))
        await anyio.sleep(every)


def _watch(state: State, uri: str) -> Watch:
    watch = state.watches.get(uri)
    if watch is None:
        run_id = run_id_from_uri(uri)
        path = find_packet_file(state.tools.base, run_id) if run_id else None
        watch = state.watches[uri] = Watch(seen=_signature(path))
    return watch


def build_server(workspace: Workspace, identity: str | None = None) -> Any:
    """The lowlevel MCP server over one workspace."""
    import anyio
    import mcp_types as types
    from mcp.server.lowlevel import Server
    from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler
    from mcp.shared.exceptions import MCPError

    tools = Tools(workspace, identity)
    state = State(tools=tools, bus=InMemorySubscriptionBus())
    listen = ListenHandler(state.bus)

    def current_specs() -> dict[str, dict[str, Any]]:
        """The tools as this workspace's runbook and lint settings now describe them."""
        return {spec["name"]: spec for spec in tool_specs(tools.workspace)}

    @asynccontextmanager
    async def lifespan(_server: Any) -> AsyncIterator[State]:
        async with anyio.create_task_group() as group:
            group.start_soon(watch_packets, state)
            try:
                yield state
            finally:
                group.cancel_scope.cancel()

    async def list_tools(ctx: Any, params: Any) -> Any:
        try:
            specs = await anyio.to_thread.run_sync(current_specs)
        except HandoffError as exc:  # e.g. the runbook broke while serving
            raise MCPError(types.INTERNAL_ERROR, error_text(error_payload(exc))) from None
        return types.ListToolsResult(tools=[
            types.Tool(name=s["name"], description=s["description"],
                       input_schema=s["inputSchema"], output_schema=s.get("outputSchema"),
                       annotations=types.ToolAnnotations(
                           read_only_hint=s["readOnlyHint"], destructive_hint=False,
                           open_world_hint=False))
            for s in specs.values()])

    def result(data: dict[str, Any], text: str | None = None) -> Any:
        from .textsafe import safe_json

        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text or safe_json(data))],
            structured_content=data, is_error=False)

    def refusal(exc: HandoffError, extra: dict[str, Any] | None = None) -> Any:
        error = error_payload(exc)
        data: dict[str, Any] = {"error": error, **(extra or {})}
        return types.CallToolResult(content=[types.TextContent(type="text",
                                                               text=error_text(error))],
                                    structured_content=data, is_error=True)

    async def in_thread(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)

    async def wait_for_decision(ctx: Any, run_id: str, timeout: float) -> Any:
        if not math.isfinite(timeout):
            raise UsageError(f"timeout must be a number of seconds from 0 to {WAIT_CAP:g}")
        timeout = min(max(timeout, 0.0), WAIT_CAP)
        start = anyio.current_time()
        # At once, so a client knows the wait began (and, on a busy machine, that it lives).
        await ctx.session.report_progress(0.0, timeout, f"waiting for the owner's decision on "
                                                        f"{run_id}")
        while True:
            left = timeout - (anyio.current_time() - start)
            try:
                data = await in_thread(functools.partial(
                    tools.wait_slice, run_id, max(0.0, min(left, PROGRESS_EVERY))))
                return result(data)
            except WaitTimeout as exc:
                elapsed = anyio.current_time() - start
                if elapsed >= timeout:
                    current = await in_thread(functools.partial(tools.handoff_status, run_id))
                    timed_out = WaitTimeout(f"no decision after {timeout:g}s; status is still "
                                            f"'{current['status']}'", exc.path)
                    return refusal(timed_out, {"status": current})
                await ctx.session.report_progress(
                    min(elapsed, timeout), timeout,
                    f"waiting for the owner's decision on {run_id} ({elapsed:.0f}s)")

    async def call_tool(ctx: Any, params: Any) -> Any:
        name = params.name
        arguments = dict(params.arguments or {})
        if name not in TOOL_NAMES:
            raise MCPError(types.INVALID_PARAMS, f"unknown tool '{name}'; the tools are: "
                                                 f"{', '.join(TOOL_NAMES)}")
        try:
            spec = (await anyio.to_thread.run_sync(current_specs))[name]
            check_arguments(spec["checkSchema"], arguments, name)
            if name == "wait_for_decision":
                return await wait_for_decision(ctx, arguments["runId"],
                                               float(arguments.get("timeout", WAIT_DEFAULT)))
            call: Callable[[], dict[str, Any]] = {
                "handoff_brief": tools.handoff_brief,
                "create_handoff": lambda: tools.create_handoff(arguments["packet"]),
                "report_exception": lambda: tools.report_exception(arguments["packet"]),
                "handoff_status": lambda: tools.handoff_status(arguments["runId"]),
                "close_handoff": lambda: tools.close_handoff(arguments["runId"],
                                                             arguments["outcome"]),
                "update_handoff": lambda: tools.update_handoff(
                    arguments["runId"], arguments.get("set") or {},
                    list(arguments.get("unset") or []), arguments.get("body")),
            }[name]
            data = await in_thread(call)
            if name == "handoff_brief":
                return result(data, data["brief"])
            return result(data)
        except HandoffError as exc:
            return refusal(exc)
        except Exception as exc:  # a bug: say so plainly, never a traceback to the agent
            log.exception("tool %s failed", name)
            return types.CallToolResult(content=[types.TextContent(
                type="text", text=f"error (internal, exit 70): {type(exc).__name__}: {exc}; "
                "please report it")], is_error=True)

    async def list_resources(ctx: Any, params: Any) -> Any:
        from .api import list_queue

        try:
            entries = await anyio.to_thread.run_sync(lambda: list_queue(tools.workspace))
        except HandoffError as exc:
            raise MCPError(types.INTERNAL_ERROR, error_text(error_payload(exc))) from None
        resources = [types.Resource(name="runbook", title="The workspace runbook",
                                    uri=RUNBOOK_URI, mime_type="application/yaml",
                                    description="Roles, members, handoff types, routing rules "
                                                "and exception triggers.")]
        for entry in entries:
            if entry.run_id and RUN_ID.match(entry.run_id):
                resources.append(types.Resource(
                    name=entry.run_id, uri=URI_PREFIX + entry.run_id, mime_type="text/markdown",
                    description=f"{entry.status} {entry.handoff_type or ''} for "
                                f"{entry.owner_role or '?'}"))
        return types.ListResourcesResult(resources=resources)

    async def list_templates(ctx: Any, params: Any) -> Any:
        return types.ListResourceTemplatesResult(resource_templates=[types.ResourceTemplate(
            name="packet", uri_template=URI_PREFIX + "{runId}", mime_type="text/markdown",
            description="A packet's review view as Markdown.")])

    async def read_resource(ctx: Any, params: Any) -> Any:
        uri = str(params.uri)
        try:
            if uri == RUNBOOK_URI:
                text = await anyio.to_thread.run_sync(tools.runbook_text)
                mime = "application/yaml"
            else:
                run_id = run_id_from_uri(uri)
                if run_id is None:
                    raise MCPError(types.INVALID_PARAMS,
                                   f"unknown resource '{uri}'; expected {RUNBOOK_URI} or "
                                   f"{URI_PREFIX}<runId>", {"uri": uri})
                text = await anyio.to_thread.run_sync(tools.packet_markdown, run_id)
                mime = "text/markdown"
        except HandoffError as exc:
            raise MCPError(types.INVALID_PARAMS, error_text(error_payload(exc)),
                           {"uri": uri, "error": error_payload(exc)}) from None
        return types.ReadResourceResult(contents=[types.TextResourceContents(
            uri=uri, mime_type=mime, text=text)])

    def subscribable(uri: str) -> None:
        if run_id_from_uri(uri) is None:
            raise MCPError(types.INVALID_PARAMS, f"only packets ({URI_PREFIX}<runId>) can be "
                                                 f"subscribed to, not '{uri}'", {"uri": uri})

    async def subscribe(ctx: Any, params: Any) -> Any:
        uri = str(params.uri)
        subscribable(uri)
        _watch(state, uri).sessions.add(ctx.session)
        return types.EmptyResult()

    async def unsubscribe(ctx: Any, params: Any) -> Any:
        watch = state.watches.get(str(params.uri))
        if watch is not None:
            watch.sessions.discard(ctx.session)
        return types.EmptyResult()

    async def listen_stream(ctx: Any, params: Any) -> Any:
        uris = [str(u) for u in (params.notifications.resource_subscriptions or ())]
        for uri in uris:
            subscribable(uri)
        for uri in uris:
            _watch(state, uri).listeners += 1
        try:
            return await listen(ctx, params)
        finally:
            for uri in uris:
                watch = state.watches.get(uri)
                if watch is not None:
                    watch.listeners -= 1

    return Server(
        SERVER_NAME, version=__version__, title="handoff decision packets",
        instructions=INSTRUCTIONS, lifespan=lifespan,
        on_list_tools=list_tools, on_call_tool=call_tool,
        on_list_resources=list_resources, on_list_resource_templates=list_templates,
        on_read_resource=read_resource, on_subscribe_resource=subscribe,
        on_unsubscribe_resource=unsubscribe, on_subscriptions_listen=listen_stream,
    )


def serve(workspace: Workspace, transport: str = "stdio", port: int = 8000,
          identity: str | None = None, announce: Callable[[str], None] | None = None) -> None:
    """Run the server until the client goes away (stdio) or the process is stopped (HTTP);
    `announce` hears where it serves once it does."""
    import anyio

    logging.basicConfig(stream=sys.stderr, level=os.environ.get("HANDOFF_MCP_LOG", "WARNING"),
                        format="handoff mcp: %(levelname)s %(message)s")
    server = build_server(workspace, identity)
    if transport == "stdio":
        from mcp.server.stdio import stdio_server

        async def run_stdio() -> None:
            async with stdio_server() as (read_stream, write_stream):
                await server.run(read_stream, write_stream,
                                 server.create_initialization_options())

        if announce is not None:
            announce("stdio")
        anyio.run(run_stdio)
        return
    import socket

    import uvicorn

    # Bound here, to 127.0.0.1 only, so that a port in use is one clear message (exit 2).
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(("127.0.0.1", port))
    except OSError as exc:
        listener.close()
        raise UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; "
                         "choose another --port") from None
    app = server.streamable_http_app(host="127.0.0.1")
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    if announce is not None:
        announce(f"http://127.0.0.1:{port}/mcp")
    with listener:
        anyio.run(functools.partial(uvicorn.Server(config).serve, sockets=[listener]))
