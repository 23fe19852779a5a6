"""The errors the library raises, each carrying the exit code the CLI maps it to.

The library never prints or exits; the CLI turns a HandoffError into one message and its code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CONFLICT = 3
EXIT_NOT_ALLOWED = 4
EXIT_TIMEOUT = 124


class HandoffError(Exception):
    """A failure with a user-facing message, optionally placed at a file and line."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, path: Path | str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        return f"{where}{self.message}"


class UsageError(HandoffError):
    """Bad flags or arguments."""

    exit_code = EXIT_USAGE


class ConfigError(HandoffError):
    """No workspace, or a broken handoff.yaml, runbook or template."""

    exit_code = EXIT_USAGE


class WorkspaceError(ConfigError):
    """The workspace's own folders or files are unusable (`.handoff/` a file, a lock that is a
    folder) or lead outside it through a symlink; messages name the path from the workspace."""


class PacketError(HandoffError):
    """A packet that cannot be read or parsed well enough to act on."""

    exit_code = EXIT_FAILED


class NotFoundError(HandoffError):
    """A packet, runId or file that does not exist."""

    exit_code = EXIT_FAILED


class NotReadyError(HandoffError):
    """A packet with lint errors that a reviewer tried to decide without --force."""

    exit_code = EXIT_FAILED


class ConflictError(HandoffError):
    """The packet was already decided, or changed while deciding."""

    exit_code = EXIT_CONFLICT


class NotAllowedError(HandoffError):
    """The reviewer is not a member of the owner role."""

    exit_code = EXIT_NOT_ALLOWED


class GitError(HandoffError):
    """A git command behind --push, sync or wait --pull failed (fetch, rebase, commit, push)."""

    exit_code = EXIT_FAILED


class WaitTimeout(HandoffError):
    """`wait` ran out of time before a decision; `status` is the packet's status then (a
    PacketStatus, or None when the packet could not be read)."""

    exit_code = EXIT_TIMEOUT
    status: Any = None


class NotCleanError(HandoffError):
    """`new --strict`: the packet would not lint clean, so nothing was written; `findings`
    are the lint findings it would have had."""

    exit_code = EXIT_FAILED
    findings: tuple[Any, ...] = ()


class SigningError(HandoffError):
    """A decision cannot be signed: no usable key, or ssh-keygen missing or failing."""

    exit_code = EXIT_USAGE


class VerifyFailed(HandoffError):
    """`handoff verify` found a decision that does not verify."""

    exit_code = EXIT_FAILED
