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

CACHE_VERSION = 1
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


class ResultCache:
    """Per-file results keyed by absolute path; each entry holds the file's identity, a content
    hash, and named parts ('lint', 'row') that their owners validate against their own inputs."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / "cache" / CACHE_FILE
        self.fingerprint = tool_fingerprint()
        self.started_ns = time.time_ns()
        self.entries: dict[str, dict[str, Any]] = self._read()
        self.changed = False

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            st = os.stat(self.path)
            if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_CACHE_BYTES:
                return {}
            with open(self.path, "rb") as handle:
                data = json.loads(handle.read())
        except (OSError, ValueError, RecursionError):
            return {}  # missing, unreadable or corrupt: start afresh, the next save rebuilds it
        if (not isinstance(data, dict) or data.get("version") != CACHE_VERSION
                or data.get("tool") != self.fingerprint
                or not isinstance(data.get("entries"), dict)):
            return {}
        entries: dict[str, dict[str, Any]] = data["entries"]
        return entries

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
            self.changed = True
        return True

    def _is_racy(self, st: os.stat_result) -> bool:
        return max(st.st_mtime_ns, st.st_ctime_ns) >= self.started_ns - RACY_NS

    def put(self, path: str, st: os.stat_result, sha: str | None, name: str,
            value: Any) -> None:
        """Record part `name` for the file version `st` (taken before its bytes were read;
        `sha` is their content_hash, None when they could not be read, so a racy entry is not
        kept)."""
        if not stat.S_ISREG(st.st_mode):
            return
        identity = file_identity(st)
        racy = self._is_racy(st)
        if racy and sha is None:
            return
        entry = self.entries.get(path)
        if not isinstance(entry, dict) or entry.get("id") != identity:
            entry = {"id": identity, "racy": racy, "sha": sha}
            self.entries[path] = entry
        elif entry.get("racy") and (sha is None or entry.get("sha") != sha):
            return  # the same identity with other bytes: let the next run look again
        entry[name] = value
        self.changed = True

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
        from .store import replace_file

        text = json.dumps({"version": CACHE_VERSION, "tool": self.fingerprint,
                           "entries": self.entries}, separators=(",", ":"))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            gitignore = self.state_dir / ".gitignore"
            if not gitignore.exists():
                gitignore.write_text("*\n", encoding="utf-8")
            # "_cache" is never a runId ("cache" was: deciding runId "cache" removed the
            # cache's staged file, and the reverse made that decision fail).
            replace_file(self.state_dir, self.path, "_cache", text)
        except (OSError, HandoffError):  # a cache that cannot be written is no error
            return
        self.changed = False
