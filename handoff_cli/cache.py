"""The result cache under .handoff/cache/: what lint and list computed per file, reused only while
the file's identity and content, the tool and the inputs each result read are unchanged.

One versioned JSON file, replaced atomically (two racing runs: the last complete write wins, a
torn file is never read); anything unreadable or unexpected in it is ignored and rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

from . import __version__
from .errors import HandoffError

CACHE_VERSION = 2
CACHE_FILE = "results.json"
MAX_CACHE_BYTES = 512 << 20
# A file whose ctime or mtime is this recent may change again within the same timestamp tick
# (the "racy" case): such an entry is trusted only after its content hash is checked again.
RACY_NS = 2_000_000_000

Identity = list[int]


def file_identity(st: os.stat_result) -> Identity:
    """What identifies one version of a file without reading it: size, mtime, ctime, inode, dev."""
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def cacheable_stat(path: str | Path) -> os.stat_result | None:
    """The identity of a regular file whose results may be cached; None for anything else (a
    symlink, whose target may change without it, a FIFO, a missing file)."""
    try:
        st = os.lstat(path)
    except (OSError, ValueError):
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def content_hash(data: bytes) -> str:
    """The content hash stored for racy entries."""
    return hashlib.sha256(data).hexdigest()


def tool_fingerprint() -> str:
    """The tool's version plus the size and mtime of every source and schema file of the
    package, so that a new release or an edited rule (in a development install) re-checks all."""
    package = Path(__file__).parent
    parts = [__version__, "{}.{}".format(*sys.version_info[:2])]
    for dirpath, dirnames, filenames in os.walk(package):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith((".py", ".json")):
                with contextlib.suppress(OSError):
                    st = os.stat(os.path.join(dirpath, name))
                    parts.append(f"{dirpath[len(str(package)):]}/{name}:{st.st_size}:"
                                 f"{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def cache_problem(state_dir: Path) -> str | None:
    """Why the cache could not be written under `state_dir` (.handoff/ a file, read-only, a
    link leading out...), in one line naming the path; None when it could."""
    from .store import state_problem

    return state_problem(state_dir, "cache", "tmp")


class ResultCache:
    """Per-file results keyed by absolute path; each entry holds the file's identity, a content
    hash, and named parts ('lint', 'row') that their owners validate against their own inputs."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / "cache" / CACHE_FILE
        self.fingerprint = tool_fingerprint()
        self.started_ns = time.time_ns()
        # What the 'lint' parts were computed against (engine.context_digest), and the lists
        # of reads they recorded: many packets read the same evidence, so each list is stored
        # (and checked) once and a 'lint' part names its list by index.
        self.context: str | None = None
        self.reads: list[Any] = []
        self.entries: dict[str, dict[str, Any]] = self._read()
        self.changed = False
        self._read_index: dict[str, int] | None = None

    def _read(self) -> dict[str, dict[str, Any]]:
        from .store import read_regular

        raw = read_regular(self.path, MAX_CACHE_BYTES)  # never through a symlink, never a FIFO
        if raw is None or len(raw) > MAX_CACHE_BYTES:
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            return {}  # missing, unreadable or corrupt: start afresh, the next save rebuilds it
        if (not isinstance(data, dict) or data.get("version") != CACHE_VERSION
                or data.get("tool") != self.fingerprint
                or not isinstance(data.get("entries"), dict)
                or not isinstance(data.get("reads"), list)
                or not isinstance(data.get("context"), (str, type(None)))):
            return {}
        self.context = data["context"]
        self.reads = data["reads"]
        entries: dict[str, dict[str, Any]] = data["entries"]
        return entries

    def use_context(self, context: str) -> None:
        """Keep 'lint' parts only if they were computed against `context`."""
        if self.context == context:
            return
        for entry in self.entries.values():
            if isinstance(entry, dict):
                entry.pop("lint", None)
        self.context = context
        self.changed = True

    def reads_id(self, reads: list[Any], key: str | None = None) -> int:
        """The index of a list of reads in the shared table (added if new); `key` is
        reads_key(reads) when the caller has it."""
        if self._read_index is None:
            self._read_index = {reads_key(r): i for i, r in enumerate(self.reads)}
        key = reads_key(reads) if key is None else key
        index = self._read_index.get(key)
        if index is None:
            index = self._read_index[key] = len(self.reads)
            self.reads.append(reads)
        return index

    def reads_at(self, index: Any) -> Any:
        """The list of reads at `index` (None for anything that is no index of the table)."""
        if index.__class__ is not int or not 0 <= index < len(self.reads):
            return None
        return self.reads[index]

    def part(self, path: str, st: os.stat_result, name: str) -> Any:
        """The cached part `name` for this version of the file, or None."""
        entry = self.entries.get(path)
        if not isinstance(entry, dict) or entry.get("id") != file_identity(st):
            return None
        if entry.get("racy") and not self._still_same(path, entry, st):
            return None
        return entry.get(name)

    def _still_same(self, path: str, entry: dict[str, Any], st: os.stat_result) -> bool:
        recorded = entry.get("sha")
        if not isinstance(recorded, str):
            return False
        try:
            with open(path, "rb") as handle:
                data = handle.read(st.st_size + 1)
        except OSError:
            return False
        if content_hash(data) != recorded:
            return False
        if not self._is_racy(st):  # old enough now: trust the identity from here on
            entry["racy"] = False
            entry["sha"] = None  # only a racy entry's content is compared
            self.changed = True
        return True

    def _is_racy(self, st: os.stat_result) -> bool:
        return max(st.st_mtime_ns, st.st_ctime_ns) >= self.started_ns - RACY_NS

    def put(self, path: str, st: os.stat_result, sha: str | None, name: str,
            value: Any) -> None:
        """Record part `name` for the file version `st` (taken before its bytes were read;
        `sha` is their content_hash, None when they could not be read, so a racy entry is not
        kept)."""
        self.put_parts(path, st, sha, {name: value})

    def put_parts(self, path: str, st: os.stat_result, sha: str | None,
                  parts: dict[str, Any]) -> None:
        """put() for several parts of one file version at once."""
        if not stat.S_ISREG(st.st_mode):
            return
        identity = file_identity(st)
        racy = self._is_racy(st)
        if racy and sha is None:
            return
        entry = self.entries.get(path)
        if not isinstance(entry, dict) or entry.get("id") != identity:
            entry = {"id": identity, "racy": racy, "sha": sha if racy else None}
            self.entries[path] = entry
        elif entry.get("racy") and (sha is None or entry.get("sha") != sha):
            return  # the same identity with other bytes: let the next run look again
        entry.update(parts)
        self.changed = True

    def _prune_reads(self) -> None:
        """Renumber the reads table to the lists some entry still names."""
        parts = _lint_parts(self.entries)
        used = sorted({p["reads"] for p in parts if self.reads_at(p.get("reads")) is not None})
        if len(used) == len(self.reads):
            return
        new_index = {old: new for new, old in enumerate(used)}
        for part in parts:
            part["reads"] = new_index.get(part.get("reads"), -1)  # -1: never valid
        self.reads = [self.reads[old] for old in used]
        self._read_index = None

    def keep_only(self, paths: set[str]) -> None:
        """Forget files outside `paths` (after a run that saw the whole queue)."""
        stale = [p for p in self.entries if p not in paths]
        for p in stale:
            del self.entries[p]
        self.changed = self.changed or bool(stale)

    def save(self) -> None:
        """Write the cache atomically if anything changed; a read-only workspace just skips it."""
        if not self.changed:
            return
        from .store import state_folder

        self._prune_reads()
        data = json.dumps({"version": CACHE_VERSION, "tool": self.fingerprint,
                           "context": self.context, "reads": self.reads,
                           "entries": self.entries}, separators=(",", ":")).encode("utf-8")
        try:  # the folders are checked (never a link leading out); rename replaces a link
            state_folder(self.state_dir, "cache")
            replace_unsynced(self.state_dir, self.path, data)
        except (OSError, HandoffError):  # a cache that cannot be written is no error
            return
        self.changed = False


def reads_key(reads: Any) -> str:
    """A list of reads as text: equal lists, equal keys."""
    return json.dumps(reads, separators=(",", ":"))


def _lint_parts(entries: dict[str, Any]) -> list[dict[str, Any]]:
    return [part for entry in entries.values() if isinstance(entry, dict)
            and isinstance(part := entry.get("lint"), dict)]


# Staged cache files are named like store.replace_file's, under a key no runId has ("cache"
# was one: deciding runId "cache" removed the cache's staged file, and the reverse).
CACHE_KEY = "_cache"


def replace_unsynced(state_dir: Path, path: Path, data: bytes) -> None:
    """Replace `path` atomically (staged, then renamed: a reader sees the old file or the new
    one, never a torn one) without fsync. A cache needs no durability: after a crash a lost or
    garbled file is ignored and rebuilt; and an fsync here made the first run after writing
    many packets wait for the filesystem to flush all of them (about 1.4 s for 10,000)."""
    import glob
    import tempfile

    from .store import KEY_END, TEMP_PREFIX, staging_dir

    folder = staging_dir(state_dir)
    prefix = f"{TEMP_PREFIX}{CACHE_KEY}{KEY_END}"
    for stale in glob.glob(os.path.join(glob.escape(str(folder)), glob.escape(prefix) + "*")):
        with contextlib.suppress(OSError):
            if time.time() - os.lstat(stale).st_mtime > STALE_SECONDS:
                os.unlink(stale)  # left by a killed run (a running one's is younger)
    fd, temp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:  # mode 0600, as mkstemp makes it
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


STALE_SECONDS = 600
