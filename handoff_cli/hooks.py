"""Notifications: the shell commands handoff.yaml's `hooks:` names for an event, run like git hooks
with the event and the packet's status JSON on stdin; a hook never blocks or undoes a write.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Any

from .timeutil import iso
from .workspace import Workspace

HOOK_EVENTS = ("created", "overdue", "escalated", "decided", "returned", "withdrawn", "closed",
               "resolved", "resubmitted")
DEFAULT_TIMEOUT = 10.0
MAX_TIMEOUT = 600.0
ENV_NO_HOOKS = "HANDOFF_NO_HOOKS"
_TAIL = 300  # characters of a failing hook's output shown in the report


def parse_hooks(value: Any, timeout: Any,
                fail: Callable[..., Exception]) -> tuple[dict[str, tuple[str, ...]], float]:
    """handoff.yaml's `hooks: {EVENT: COMMAND | [COMMAND...]}` and `hookTimeout: SECONDS`."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise fail("'hooks' must map events to a shell command or a list of them", "hooks")
    hooks: dict[str, tuple[str, ...]] = {}
    for event, commands in value.items():
        if event not in HOOK_EVENTS:
            raise fail(f"unknown hook event '{event}'; one of: {', '.join(HOOK_EVENTS)}",
                       "hooks", str(event))
        listed = [commands] if isinstance(commands, str) else commands
        if commands is None:
            listed = []
        if not isinstance(listed, list) or not all(
                isinstance(c, str) and c.strip() and "\x00" not in c for c in listed):
            raise fail(f"hook '{event}' must be a shell command or a list of them",
                       "hooks", str(event))
        hooks[str(event)] = tuple(listed)
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not 0 < timeout <= MAX_TIMEOUT:
        raise fail(f"'hookTimeout' must be a number of seconds from 0 to {MAX_TIMEOUT:g}",
                   "hookTimeout")
    return hooks, float(timeout)


def payload(workspace: Workspace, event: str, path: Path,
            details: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a hook reads on stdin: the event, the packet's status JSON (as `handoff status`
    prints it) and the fields a notification needs."""
    from .agent import status_of
    from .errors import HandoffError
    from .review import reload

    data: dict[str, Any] = {"event": event, "workspace": str(workspace.root)}
    try:
        packet = reload(workspace, path)
    except HandoffError:
        data.update({"runId": path.stem, "path": workspace.relative(path)})
    else:
        data.update(status_of(workspace, packet).as_dict())
        for key in ("handoffType", "ownerRole", "dueBy", "triggerReason", "agentGoal"):
            value = packet.data.get(key)
            data[key] = value if isinstance(value, str) else None
    data["details"] = dict(details) if details is not None else None
    return data


def hook_env(workspace: Workspace, data: Mapping[str, Any]) -> dict[str, str]:
    """The environment of a hook: ours plus HANDOFF_* variables for the common fields."""
    option = data.get("option")
    details = data.get("details")
    fields = {
        "HANDOFF_EVENT": data.get("event"),
        "HANDOFF_RUN_ID": data.get("runId"),
        "HANDOFF_STATUS": data.get("status"),
        "HANDOFF_PATH": data.get("path"),
        "HANDOFF_TYPE": data.get("handoffType"),
        "HANDOFF_OWNER_ROLE": data.get("ownerRole"),
        "HANDOFF_DUE_BY": data.get("dueBy"),
        "HANDOFF_OPTION": option.get("label") if isinstance(option, dict) else None,
        "HANDOFF_BY": details.get("by") if isinstance(details, dict) else None,
        "HANDOFF_WORKSPACE": str(workspace.root.absolute()),
    }
    env = dict(os.environ)
    for name, value in fields.items():
        env[name] = "" if value is None else str(value).replace("\x00", "")
    return env


Pending = list[tuple[Workspace, str, Path, "Mapping[str, Any] | None"]]
_HELD: ContextVar[Pending | None] = ContextVar("handoff_hooks_held", default=None)


@contextlib.contextmanager
def held() -> Iterator[Pending]:
    """Hold the notifications of the writes inside the block (a git --push write is final only
    once pushed): the caller fires them with `release` after success; if the block raises
    (another clone won), they are dropped, so nobody is told of a decision that lost."""
    pending: Pending = []
    token = _HELD.set(pending)
    try:
        yield pending
    finally:
        _HELD.reset(token)


def release(pending: Pending) -> tuple[str, ...]:
    """Fire held notifications; what went wrong, as `notify` returns it."""
    problems: list[str] = []
    token = _HELD.set(None)  # fire now, even inside another holder's block
    try:
        for workspace, event, path, details in pending:
            problems += notify(workspace, event, path, details)
    finally:
        _HELD.reset(token)
    return tuple(problems)


def notify(workspace: Workspace, event: str, path: Path,
           details: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """Run the event's hooks, one after another, each bounded by hookTimeout; return what went
    wrong, one line per failing hook (the caller reports it; the write stands either way).
    Inside `held()` they are queued instead, and run by `release`."""
    commands = workspace.settings.hooks.get(event, ())
    if not commands or os.environ.get(ENV_NO_HOOKS, "").strip() not in ("", "0"):
        return ()
    pending = _HELD.get()
    if pending is not None:
        pending.append((workspace, event, path, details))
        return ()
    data = payload(workspace, event, path, details)
    stdin = json.dumps(data, ensure_ascii=False, default=str) + "\n"
    env = hook_env(workspace, data)
    problems = []
    for command in commands:
        problem = run_hook(command, stdin, env, workspace.root, workspace.settings.hook_timeout)
        if problem is not None:
            problems.append(f"hook '{event}' ({_short(command)}) {problem}; "
                            f"{workspace.relative(path)} was recorded anyway")
    return tuple(problems)


def run_hook(command: str, stdin: str, env: Mapping[str, str], cwd: Path,
             timeout: float) -> str | None:
    """Run one hook command through the shell; None if it succeeded, else why it failed.

    The hook gets its own process group so that a hung one is killed with everything it started.
    """
    try:
        process = subprocess.Popen(command, shell=True, cwd=cwd, env=dict(env),
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        return f"could not start: {exc.strerror or exc}"
    try:
        _, err = process.communicate(stdin.encode("utf-8"), timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        return f"did not finish within {timeout:g}s and was killed"
    if process.returncode != 0:
        tail = err.decode("utf-8", "replace").strip()[-_TAIL:]
        how = (f"was killed by signal {-process.returncode}" if process.returncode < 0
               else f"exited {process.returncode}")
        return how + (f": {' '.join(tail.split())}" if tail else "")
    return None


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    killpg = getattr(os, "killpg", None)  # POSIX; elsewhere only the hook itself is killed
    if killpg is not None:
        with contextlib.suppress(OSError):
            killpg(process.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
    with contextlib.suppress(OSError):
        process.kill()
    try:  # reap it; a grandchild that left the group may keep the pipes open: stop waiting
        process.communicate(timeout=2)
    except subprocess.TimeoutExpired:
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=2)


def _short(command: str) -> str:
    line = " ".join(command.split())
    return line if len(line) <= 60 else line[:57] + "..."


NOTIFIED_VERSION = 1


def notify_overdue(workspace: Workspace, path: Path, changes: Sequence[Any],
                   now: datetime) -> tuple[str, ...]:
    """After `route --escalate` handled one packet: fire `overdue` once per packet and due time
    (remembered in .handoff/notified.json, so a cron job does not repeat it), and `escalated`
    when it was handed up. `changes` are the packet's RouteChanges."""
    from .errors import HandoffError
    from .packet import is_overdue
    from .review import reload
    from .timeutil import parse_iso

    hooks = workspace.settings.hooks
    if not hooks.get("overdue") and not hooks.get("escalated"):
        return ()
    escalated = any(c.field == "escalatedTo" and c.new for c in changes)
    if escalated:
        old_due = next((c.old for c in changes if c.field == "dueBy"), None)
        due = parse_iso(old_due)
    else:
        try:
            packet = reload(workspace, path)
        except HandoffError:
            return ()
        if not is_overdue(packet.data, now) or _inside(path, workspace.exceptions_dir):
            return ()
        due = parse_iso(packet.data.get("dueBy"))
    if due is None:
        return ()
    details = {"event": "overdue", "at": iso(now), "dueBy": iso(due)}
    problems: list[str] = []
    if hooks.get("overdue") and first_notice(workspace, path.stem, "overdue", iso(due)):
        problems += notify(workspace, "overdue", path, details)
    if escalated:
        try:
            history = reload(workspace, path).data.get("history")
        except HandoffError:
            history = None
        event = history[-1] if isinstance(history, list) and history else None
        problems += notify(workspace, "escalated", path,
                           event if isinstance(event, dict) else None)
    return tuple(problems)


def first_notice(workspace: Workspace, run_id: str, event: str, key: str) -> bool:
    """Whether `event` for (run_id, key) was not notified before; remember it now."""
    from filelock import FileLock, Timeout

    from .errors import HandoffError
    from .store import atomic_write, state_folder

    state = workspace.state_dir / "notified.json"
    try:
        state_folder(workspace.state_dir)
        # filelock opens with O_NOFOLLOW; atomic_write renames over a planted link, never into it
        with FileLock(str(state) + ".lock", timeout=10):
            seen = _read_notified(state)
            events = seen.setdefault(event, {})
            if events.get(run_id) == key:
                return False
            events[run_id] = key
            atomic_write(state, json.dumps({"version": NOTIFIED_VERSION, **seen}, indent=1))
    except (Timeout, OSError, HandoffError):
        return True  # better a repeated notification than a lost one
    return True


def _read_notified(state: Path) -> dict[str, dict[str, str]]:
    """The notified state, or an empty one when it is missing, unreadable or another version."""
    from .store import read_regular

    raw = read_regular(state, 16 << 20)  # never through a symlink, never blocking on a FIFO
    try:
        data = json.loads(raw.decode("utf-8")) if raw is not None else None
    except (ValueError, RecursionError):
        return {}
    if not isinstance(data, dict) or data.get("version") != NOTIFIED_VERSION:
        return {}
    return {k: {str(r): str(d) for r, d in v.items()} for k, v in data.items()
            if k != "version" and isinstance(v, dict)}


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError):
        return False
    return True
