"""Atomic file writes and per-packet locks.

New bytes are staged in a temporary file (under the workspace's .handoff/tmp/, else beside the
target), fsynced, then renamed or linked into place: a reader, or a kill -9, sees the old file
or the new one, never a torn one, and no stray temporary file is left in the packet folders.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from .errors import ConflictError, HandoffError, WorkspaceError
from .workspace import leads_outside

TEMP_PREFIX = ".handoff-write-"
KEY_END = "+"
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
NONBLOCK = getattr(os, "O_NONBLOCK", 0)
CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def file_kind(mode: int) -> str:
    """What a directory entry is, in words ("a file", "a folder", "a FIFO (named pipe)"...)."""
    for test, name in ((stat.S_ISREG, "a file"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISLNK, "a symlink"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a file or folder"


def _shown(state_dir: Path, *names: str) -> str:
    return "/".join((state_dir.name, *names))


def _broken(shown: str, problem: str) -> WorkspaceError:
    return WorkspaceError(f"broken workspace: {problem}", shown)


def _usable_dir(path: Path, real_root: str, shown: str, create: bool) -> None:
    """Make sure `path` is a writable folder that stays inside `real_root`, creating it (never
    through a symlink) when missing and `create`; WorkspaceError (exit 2) naming `shown` else."""
    if create:
        try:
            os.mkdir(path, 0o755)  # never follows a symlink at `path` (EEXIST instead)
        except FileExistsError:
            pass
        except OSError as exc:
            raise _broken(shown, f"cannot create this folder: {exc.strerror or exc}") from None
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        if create:
            raise _broken(shown, "this folder vanished while it was being used") from None
        return
    except OSError as exc:
        raise _broken(shown, f"cannot use this folder: {exc.strerror or exc}") from None
    if stat.S_ISLNK(info.st_mode):
        where = leads_outside(real_root, path)
        if where is not None:
            raise _broken(shown, f"is a symlink leading outside the workspace (to {where}); "
                          "handoff never writes through it: make it a folder")
        try:
            info = os.stat(path)
        except OSError:
            raise _broken(shown, "is a symlink that leads nowhere; remove it") from None
    if not stat.S_ISDIR(info.st_mode):
        raise _broken(shown, f"is {file_kind(info.st_mode)}, not a folder; move it away "
                      "(handoff keeps its locks, staged writes and cache in folders here)")
    if not os.access(path, os.W_OK | os.X_OK):
        raise _broken(shown, "is not writable; handoff cannot lock or write packets here")


def state_folder(state_dir: Path, name: str | None = None) -> Path:
    """The workspace's .handoff/ (or its subfolder `name`) as a writable folder inside the
    workspace, created when missing without following any link, with the .gitignore that keeps
    it out of git; WorkspaceError (exit 2) naming the path when it is unusable."""
    real_root = os.path.realpath(state_dir.parent)
    _usable_dir(state_dir, real_root, state_dir.name, create=True)
    with contextlib.suppress(OSError):  # without it git may show .handoff/: no reason to stop
        create_exclusive(state_dir / ".gitignore", b"*\n")
    if name is None:
        return state_dir
    folder = state_dir / name
    _usable_dir(folder, real_root, _shown(state_dir, name), create=True)
    return folder


def state_problem(state_dir: Path, *names: str) -> str | None:
    """Why .handoff/ (or its subfolders `names`) could not be written, in one line; None when
    it could (missing folders count as fine: they are created on first use)."""
    real_root = os.path.realpath(state_dir.parent)
    try:
        _usable_dir(state_dir, real_root, state_dir.name, create=False)
        for name in names:
            if os.path.isdir(state_dir):
                _usable_dir(state_dir / name, real_root, _shown(state_dir, name), create=False)
    except WorkspaceError as exc:
        return str(exc)
    return None


def create_exclusive(path: Path, data: bytes, mode: int = 0o644) -> bool:
    """Create `path` holding `data` unless something (a file, a folder, a symlink, even a
    dangling one) is already there: O_CREAT|O_EXCL never writes through a link. Returns
    whether it was created; other failures are OSError."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | CLOEXEC, mode)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    return True


def ensure_folder(real_root: str, path: Path, shown: str) -> bool:
    """Make folder `path` (and its parents) inside the folder whose real path is `real_root`,
    never through a symlink leading out of it; returns whether it was created. WorkspaceError
    (exit 2) naming `shown` when it leads outside or something else is in the way."""
    where = leads_outside(real_root, path)
    if where is not None:
        raise _broken(shown, f"leads outside the workspace through a symlink (to {where}); "
                      "handoff never writes through it")
    if os.path.isdir(path):
        return False
    try:
        path.mkdir(parents=True)
    except FileExistsError:
        if os.path.isdir(path):
            return False
        info = os.lstat(path)
        raise _broken(shown, f"is {file_kind(info.st_mode)}, not a folder") from None
    except OSError as exc:
        raise _broken(shown, f"cannot create this folder: {exc.strerror or exc}") from None
    return True


def create_inside(real_root: str, path: Path, data: bytes, shown: str) -> bool:
    """Create file `path` inside the folder whose real path is `real_root` without following
    any link; returns False when a file is already there (it is kept, never overwritten).
    WorkspaceError (exit 2) naming `shown` when the path leads outside through a symlink, is a
    symlink that leads nowhere, or is a folder or a special file."""
    ensure_folder(real_root, path.parent, shown.rpartition("/")[0] or ".")
    where = leads_outside(real_root, path)
    if where is not None:
        raise _broken(shown, f"is a symlink leading outside the workspace (to {where}); "
                      "handoff never writes through it: remove it")
    try:
        if create_exclusive(path, data):
            return True
        info = os.stat(path)  # something is there: a file (or a link to one inside) is kept
    except FileNotFoundError:
        raise _broken(shown, "is a symlink that leads nowhere; handoff never creates a file "
                      "through a link: remove it") from None
    except OSError as exc:
        raise _broken(shown, f"cannot create this file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise _broken(shown, f"is {file_kind(info.st_mode)}, not a file")
    return False


def read_regular(path: Path, limit: int) -> bytes | None:
    """At most `limit` + 1 bytes of `path` when it is a regular file (not a symlink, FIFO or
    device: opened with O_NOFOLLOW|O_NONBLOCK, so nothing blocks); None otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | NOFOLLOW | NONBLOCK | CLOEXEC)
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(limit + 1)
    except OSError:
        return None
    finally:
        os.close(fd)


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
    return state_folder(state_dir, "tmp")


def _write_temp(folder: Path, data: bytes, prefix: str = TEMP_PREFIX) -> Path:
    import tempfile  # here, not at the top: lint imports this module and never writes

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


def _is_ours(path: Path, ours: bytes, ours_ino: int) -> bool:
    """Whether `path` is still our staged file, untouched (its inode, with our bytes)."""
    try:
        return os.lstat(path).st_ino == ours_ino and same_bytes(path, ours)
    except OSError:
        return False


def _give_back(temp: Path, path: Path, ours: bytes, ours_ino: int) -> None:
    """After the exchange put our file at `path` and the other writer's at `temp`: give theirs
    back. If they already wrote again over ours (renamed a newer file in, or rewrote ours in
    place), that newer write stays where it is; if a newer write lands between the check and
    the swap back, the swap is repeated so that the newest is at `path`. `temp` is left holding
    our file or an older one of theirs, for the caller to remove."""
    for _ in range(8):
        if not _is_ours(path, ours, ours_ino):
            return  # they wrote after the exchange: their newer file stays at `path`
        if not _exchange(temp, path) or _is_ours(temp, ours, ours_ino):
            return  # theirs at `path`, ours at `temp`
        # Between the check and the swap they wrote again over ours: that newer file is at
        # `temp` now, so swap once more to put it at `path` (their older one goes to `temp`).
        _exchange(temp, path)
        if not _is_ours(temp, ours, ours_ino):
            return


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


def check_bound(text: str, limit: int | None, shown: Path | str) -> None:
    """Refuse (PacketError) to write a packet larger than the bound every command reads
    packets within (lint.maxFileBytes): no command could open it again."""
    from .errors import PacketError

    size = len(text.encode("utf-8", "surrogatepass"))
    if limit is not None and size > limit:
        raise PacketError(f"writing it would make the packet {size} bytes, over "
                          f"lint.maxFileBytes ({limit}), and no command could open it; nothing "
                          "written: have the agent shorten it, or raise lint.maxFileBytes in "
                          "handoff.yaml", shown)


def replace_file(state_dir: Path, path: Path, key: str, text: str,
                 expected: str | None = None, shown: Path | str | None = None,
                 limit: int | None = None) -> None:
    """Atomically replace `path`, staging under state_dir/tmp (call it holding the lock of
    `key`: temporary files a killed writer of `key` left behind are removed first).

    With `expected` (the text the caller read under the lock), a file that another writer
    replaced meanwhile (an agent or editor writing without the lock) is never overwritten:
    ConflictError, and their version stays. On Linux the check and the swap are one atomic
    exchange; elsewhere the window is the instant between a final re-read and the rename. A
    packet that is a symlink is written through it. Errors name `shown`
    (the path as the user knows it) when given. Text over `limit` bytes is refused.
    """
    import glob

    shown = path if shown is None else shown
    check_bound(text, limit, shown)
    if expected is not None and path.is_symlink():
        # A packet linked from the queue (loading already checked the link stays inside the
        # workspace) is written through its link, so the link and the one file remain.
        path = Path(os.path.realpath(path))
    folder = staging_dir(state_dir)
    # "+" never appears in a runId or a key, so runId "a" never matches "a.b"'s files.
    for stale in folder.glob(f"{TEMP_PREFIX}{glob.escape(key)}{KEY_END}*"):
        with contextlib.suppress(OSError):
            stale.unlink()
    ours = text.encode("utf-8")
    temp = _write_temp(folder, ours, f"{TEMP_PREFIX}{key}{KEY_END}")
    try:
        with contextlib.suppress(OSError):
            os.chmod(temp, path.stat().st_mode & 0o7777)
        if expected is not None:
            before = expected.encode("utf-8")
            if not same_bytes(path, before):
                raise ConflictError(CHANGED, shown)
            ours_ino = os.lstat(temp).st_ino
            try:
                swapped = _exchange(temp, path)
            except OSError as exc:
                raise HandoffError(f"cannot write file: {exc.strerror or exc}", shown) from None
            if swapped:  # temp now holds what was at `path` the instant before
                if not same_bytes(temp, before):
                    with contextlib.suppress(OSError):
                        _give_back(temp, path, ours, ours_ino)
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
    """Hold the lock of one packet (a lock file under the workspace's .handoff/locks/); a lock
    path that is not a regular file (a folder, a symlink, a FIFO) is WorkspaceError, exit 2."""
    from filelock import FileLock, Timeout

    folder = state_folder(state_dir, "locks")
    path = folder / f"{run_id}.lock"
    shown = _shown(state_dir, "locks", path.name)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise _broken(shown, f"cannot use this lock file: {exc.strerror or exc}") from None
    else:
        if not stat.S_ISREG(info.st_mode):
            raise _broken(shown, f"the lock file is {file_kind(info.st_mode)}; remove it "
                          "(handoff never locks through it)")
    lock = FileLock(str(path), timeout=timeout)
    try:  # filelock opens with O_NOFOLLOW: a link planted after the check is ELOOP, not followed
        lock.acquire()
    except Timeout:
        raise ConflictError(f"packet '{run_id}' is locked by another writer; try again") from None
    except OSError as exc:
        raise _broken(shown, f"cannot lock: {exc.strerror or exc}") from None
    try:
        yield
    finally:
        lock.release()
