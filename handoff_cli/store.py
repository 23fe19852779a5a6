"""Atomic file writes and per-packet locks.

A write goes to a temporary file in the same folder, is fsynced, then renamed over the target,
so a reader (or a kill -9) sees the old file or the new one, never a torn one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import ConflictError, HandoffError


def _write_temp(folder: Path, data: bytes) -> Path:
    fd, name = tempfile.mkstemp(prefix=".handoff-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8, newlines as given) atomically, keeping its mode."""
    temp = _write_temp(path.parent, text.encode("utf-8"))
    try:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temp, path.stat().st_mode & 0o7777)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_dir(path.parent)


def create_new(path: Path, text: str) -> None:
    """Create `path` atomically; raise ConflictError if it already exists (never overwrites)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _write_temp(path.parent, text.encode("utf-8"))
    try:
        os.chmod(temp, 0o644)
        os.link(temp, path)  # fails if the target exists, unlike rename
    except FileExistsError:
        raise ConflictError("already exists; refusing to overwrite it", path) from None
    except OSError as exc:
        raise HandoffError(f"cannot create file: {exc.strerror or exc}", path) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)
    _fsync_dir(path.parent)


@contextlib.contextmanager
def packet_lock(state_dir: Path, run_id: str, timeout: float = 10.0) -> Iterator[None]:
    """Hold the lock of one packet (a lock file under the workspace's .handoff/locks/)."""
    from filelock import FileLock, Timeout

    folder = state_dir / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    gitignore = state_dir / ".gitignore"
    if not gitignore.exists():
        with contextlib.suppress(OSError):
            gitignore.write_text("*\n", encoding="utf-8")
    lock = FileLock(str(folder / f"{run_id}.lock"), timeout=timeout)
    try:
        with lock:
            yield
    except Timeout:
        raise ConflictError(f"packet '{run_id}' is locked by another writer; try again") from None
