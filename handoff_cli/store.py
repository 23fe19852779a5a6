"""Atomic file writes and per-packet locks.

New bytes are staged in a temporary file (under the workspace's .handoff/tmp/, else beside the
target), fsynced, then renamed or linked into place: a reader, or a kill -9, sees the old file
or the new one, never a torn one, and no stray temporary file is left in the packet folders.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import ConflictError, HandoffError

TEMP_PREFIX = ".handoff-write-"
KEY_END = "+"


def lock_key(run_id: str | None, path: Path) -> str:
    """The name a packet is locked and staged under: its runId when that is a safe file name,
    else its file name when that is one, else a digest of the file name (so a hostile runId
    never names a path, and no key holds KEY_END: the cleanup of one key's staged files can
    never match another key's)."""
    import hashlib

    from .packet import RUN_ID

    if run_id and RUN_ID.match(run_id):
        return run_id
    if RUN_ID.match(path.stem):
        return path.stem
    # "_" never starts a runId, so this key is never a packet's runId.
    return "_" + hashlib.sha256(os.fsencode(path.name)).hexdigest()[:32]


def staging_dir(state_dir: Path) -> Path:
    """The folder where new file contents are staged before they are renamed into place."""
    folder = state_dir / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _write_temp(folder: Path, data: bytes, prefix: str = TEMP_PREFIX) -> Path:
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
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


CHANGED = ("changed while deciding: another writer replaced the file after it was read; "
           "nothing recorded, and their change is kept: read it again")


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second),
                     rename_exchange)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EXDEV, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def same_bytes(path: Path, expected: bytes) -> bool:
    """Whether `path` holds exactly `expected` (read without blocking)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    try:
        with os.fdopen(fd, "rb") as handle:
            return handle.read(len(expected) + 1) == expected
    except OSError:
        return False


def replace_file(state_dir: Path, path: Path, key: str, text: str,
                 expected: str | None = None, shown: Path | str | None = None) -> None:
    """Atomically replace `path`, staging under state_dir/tmp (call it holding the lock of
    `key`: temporary files a killed writer of `key` left behind are removed first).

    With `expected` (the text the caller read under the lock), a file that another writer
    replaced meanwhile (an agent or editor writing without the lock) is never overwritten:
    ConflictError, and their version stays. On Linux the check and the swap are one atomic
    exchange; elsewhere the window is the instant between a final re-read and the rename. A
    packet that is a symlink is written through it. Errors name `shown`
    (the path as the user knows it) when given.
    """
    shown = path if shown is None else shown
    if expected is not None and path.is_symlink():
        # A packet linked from the queue (loading already checked the link stays inside the
        # workspace) is written through its link, so the link and the one file remain.
        path = Path(os.path.realpath(path))
    folder = staging_dir(state_dir)
    # "+" never appears in a runId or a key, so runId "a" never matches "a.b"'s files.
    for stale in folder.glob(f"{TEMP_PREFIX}{glob.escape(key)}{KEY_END}*"):
        with contextlib.suppress(OSError):
            stale.unlink()
    temp = _write_temp(folder, text.encode("utf-8"), f"{TEMP_PREFIX}{key}{KEY_END}")
    try:
        with contextlib.suppress(OSError):
            os.chmod(temp, path.stat().st_mode & 0o7777)
        if expected is not None:
            before = expected.encode("utf-8")
            if not same_bytes(path, before):
                raise ConflictError(CHANGED, shown)
            try:
                swapped = _exchange(temp, path)
            except OSError as exc:
                raise HandoffError(f"cannot write file: {exc.strerror or exc}", shown) from None
            if swapped:  # temp now holds what was at `path` the instant before
                if not same_bytes(temp, before):
                    with contextlib.suppress(OSError):
                        _exchange(temp, path)  # give the other writer's file back
                    raise ConflictError(CHANGED, shown)
                _fsync_dir(path.parent)
                return
        try:
            os.replace(temp, path)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise HandoffError(f"cannot write file: {exc.strerror or exc}", shown) from None
            atomic_write(path, text)  # .handoff/ is on another filesystem
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)
    _fsync_dir(path.parent)


def create_new(path: Path, text: str, state_dir: Path | None = None,
               shown: Path | str | None = None) -> None:
    """Create `path` atomically; raise ConflictError if it already exists (never overwrites).
    Errors name `shown` (the path as the user knows it) when given."""
    shown = path if shown is None else shown
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = staging_dir(state_dir) if state_dir is not None else path.parent
    temp = _write_temp(folder, text.encode("utf-8"))
    try:
        os.chmod(temp, 0o644)
        try:
            os.link(temp, path)  # fails if the target exists, unlike rename
        except OSError as exc:
            if exc.errno != errno.EXDEV or folder == path.parent:
                raise
            with contextlib.suppress(OSError):
                os.unlink(temp)
            temp = _write_temp(path.parent, text.encode("utf-8"))
            os.link(temp, path)
    except FileExistsError:
        raise ConflictError("already exists; refusing to overwrite it", shown) from None
    except OSError as exc:
        raise HandoffError(f"cannot create file: {exc.strerror or exc}", shown) from None
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
