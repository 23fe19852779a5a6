"""The lint engine: collect files, load each once, run the rules, place and filter findings.

Per-file results come from the cache (cache.py) or from checking the file; cross-file rules
(a runId seen twice) run on every run over all files, so they are never stale.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from ..cache import ResultCache, cacheable_stat, content_hash, reads_key
from ..packet import LoadFailure, Packet, load_packet
from ..workspace import PACKET_SUFFIXES, Workspace, packet_file_names, packet_files
from .registry import RULES_BY_CODE
from .rules import (
    CHECKS,
    PLACEHOLDER,
    Issue,
    LintContext,
    conflict_marker_issues,
    reads_unchanged,
)
from .suppress import (
    Directive,
    SuppressionUse,
    file_directives,
    matching_entries,
    suppress_file,
    unused_entries,
)

# The YAML language server's schema modeline that templates carry for editors.
MODELINE = re.compile(r"^[ \t]*#[ \t]*yaml-language-server:.*$", re.MULTILINE)


@dataclass(frozen=True, order=True)
class Finding:
    """One placed lint finding."""

    path: str
    line: int
    column: int
    rule: str
    severity: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class Target(NamedTuple):
    """A file to lint (its path as text: a large run makes no Path of it unless it must) and
    the path to show for it; `stat` is its cacheable_stat when the caller took it already.
    (A named tuple: a whole run makes one per file.)"""

    text: str
    shown: str
    stat: os.stat_result | None = None

    @property
    def path(self) -> Path:
        return Path(self.text)


def collect_targets(workspace: Workspace, paths: Sequence[Path]) -> list[Target]:
    """The files to lint: the given files, the packet files under given folders, or by default
    every packet file in the workspace's packets/ and exceptions/."""
    if not paths:
        targets = []
        root = str(workspace.root) + os.sep
        for folder in (workspace.packets_dir, workspace.exceptions_dir):
            targets += [Target(f, f[len(root):].replace(os.sep, "/")
                               if f.startswith(root) else _relative(Path(f), workspace.root))
                        for f in packet_file_names(folder)]
        return targets
    targets = []
    for given in paths:
        if given.is_dir():
            targets += [Target(str(f), _join_shown(given, f)) for f in packet_files(given)]
        else:
            targets.append(Target(str(given), str(given)))
    return targets


# Below this many files a run reads no cache: checking them is quicker than loading it.
CACHE_MIN_FILES = 32
# Above this many files to check, a cold run also uses the other cores.
POOL_MIN_FILES = 1500

Placed = tuple[str, int, int, str]  # rule code, line, column, message


class Checked(NamedTuple):
    """What checking one file found, before cross-file rules (H601) and suppressions (which
    depend on the whole run): cacheable as it is. (A named tuple: a warm run makes one per
    file.)"""

    issues: list[Placed]
    run_id: str | None
    reads: list[list[Any]]
    directives: list[Directive]  # the file's `# handoff: disable=` comments
    row: dict[str, Any] | None  # the queue row's fields, for `list`
    sha: str | None  # the content hash of the bytes checked, for the cache
    reads_key: str | None = None  # cache.reads_key(reads), made where the file was checked

    def compact(self) -> tuple[Any, ...]:
        """Plain values only (what a worker sends back: cheap to pickle)."""
        return (self.issues, self.run_id, self.reads,
                [(d.given, d.code, d.line, d.column) for d in self.directives], self.row,
                self.sha, self.reads_key)

    @staticmethod
    def from_compact(values: tuple[Any, ...]) -> Checked:
        issues, run_id, reads, directives, row, sha, key = values
        return Checked(issues, run_id, reads, [Directive(*d) for d in directives], row, sha,
                       key)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a large run: it builds many containers
    that last to its end (results, the cache's entries) and next to no cycles, which the
    collector would scan again and again (a fifth of a cold run of 10,000 files, and growing
    with the run). Reference counting still frees everything else at once."""
    import gc

    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def lint_paths(workspace: Workspace, paths: Sequence[Path] = (), *, use_cache: bool = True,
               workers: int | None = None, shared: ResultCache | None = None,
               targets: Sequence[Target] | None = None) -> list[Finding]:
    """Lint packet files and return every finding at its configured severity, sorted.

    Findings are reused from the cache under .handoff/ only while nothing they depend on has
    changed; `workers` (default: one per core, for large runs) checks cold files in parallel.
    `shared` is a cache the caller opened and will save (list reads rows and findings from one).
    `targets` are the files to lint when the caller listed them already (with `paths` not
    empty: a run of named files, not a whole run).
    """
    with gc_paused():
        return _lint_paths(workspace, paths, use_cache, workers, shared, targets)


def _lint_paths(workspace: Workspace, paths: Sequence[Path], use_cache: bool,
                workers: int | None, shared: ResultCache | None,
                targets: Sequence[Target] | None) -> list[Finding]:
    placeholders = template_placeholders(workspace)
    evidence_memo: dict[str, tuple[bool, str | None]] = {}
    exceptions_prefix = os.path.abspath(workspace.exceptions_dir) + os.sep
    if targets is None:
        targets = collect_targets(workspace, paths)
    cache = shared if use_cache else None
    if use_cache and cache is None and len(targets) >= CACHE_MIN_FILES:
        cache = ResultCache(workspace.state_dir)
    if cache is None or cache.context != (key := context_digest(workspace, placeholders)):
        # The runbook must load (a broken one is exit 2) unless the cache was saved against
        # these very bytes of it, the settings and this version: a run that loaded it.
        workspace.runbook  # noqa: B018 - loaded (and validated) for its errors
    if cache is not None:
        cache.use_context(key)
    reads_checked: dict[int, bool] = {}  # reads table index -> unchanged
    results: list[Checked | None] = [None] * len(targets)
    stats: list[os.stat_result | None] = [None] * len(targets)
    todo: list[tuple[int, str, bool]] = []
    # A default run's paths come from a listing of the absolute root: already absolute.
    root_text = str(workspace.root)
    absolutes = [t.text for t in targets] if not paths and os.path.abspath(root_text) == \
        root_text else [os.path.abspath(t.text) for t in targets]
    for index, absolute in enumerate(absolutes):
        in_exceptions = absolute.startswith(exceptions_prefix)
        if cache is not None:
            stat_result = targets[index].stat or cacheable_stat(absolute)
            if stat_result is not None:
                stats[index] = stat_result
                hit = _cached(cache, absolute, stat_result, in_exceptions, workspace,
                              evidence_memo, reads_checked)
                if hit is not None:
                    results[index] = hit
                    continue
        todo.append((index, targets[index].text, in_exceptions))

    if todo:  # only checking needs the runbook (a warm run never loads or validates it)
        context = LintContext(workspace, workspace.runbook, placeholders,
                              evidence_cache=evidence_memo)
        exceptions_context = replace(context, in_exceptions=True, reads=[])

        def check_one(item: tuple[int, str, bool]) -> Checked:
            _, path, in_exceptions = item
            return check_file(Path(path), workspace,
                              exceptions_context if in_exceptions else context)

        def record(item: tuple[int, str, bool], checked: Checked) -> None:
            index, _, in_exceptions = item
            results[index] = checked
            before = stats[index]
            if cache is not None and before is not None:
                parts = {"lint": {
                    "ex": in_exceptions, "issues": checked.issues, "rid": checked.run_id,
                    "reads": cache.reads_id(checked.reads, checked.reads_key),
                    "directives": [[d.given, d.code, d.line, d.column]
                                   for d in checked.directives]}}
                if checked.row is not None:
                    parts["row"] = checked.row
                cache.put_parts(absolutes[index], before, checked.sha, parts)

        check_all(todo, check_one, workers, record)

    # A default run lints every queue file, so the listing answers "does a twin exist?".
    queue_listing = None if paths else set(absolutes)
    # Many files named on the command line (list's readiness check): read each queue folder
    # once instead of looking for four twin files per packet.
    folder_names = queue_folder_names(workspace) if paths and len(targets) >= 32 else None
    folders = queue_folders(workspace, folder_names)
    findings: list[Finding] = []
    seen_ids: dict[str, str] = {}
    use = SuppressionUse()
    plain = not workspace.settings.lint_ignore
    for target, result in zip(targets, results, strict=True):
        assert result is not None
        checked = result
        issues = checked.issues
        if checked.run_id is not None:
            duplicates = duplicate_issues(checked.run_id, target.text, workspace, seen_ids,
                                          target.shown, queue_listing, folder_names, folders)
            duplicates = [i for i in duplicates if severity_of(workspace, i.code) != "off"]
            if duplicates:
                issues = list(issues)
                try:
                    packet = load_packet(target.path, workspace.settings.max_file_bytes,
                                         workspace.real_root_text)
                except LoadFailure:  # changed since it was checked: the next run reports that
                    issues += [(i.code, 1, 1, i.message) for i in duplicates]
                else:
                    issues += _positions(packet, duplicates)
        if not issues and plain and not checked.directives:
            continue  # nothing to place, suppress or mark unused
        findings += _placed(workspace, target.shown,
                            suppressed(workspace, target.path, issues, checked.directives, use))
    if not paths and workspace.settings.lint_ignore:  # only a whole run knows what is unused
        findings += _placed(workspace, _relative(workspace.config_path, workspace.root),
                            unused_entries(workspace.settings.lint_ignore, use))
    if cache is not None and cache is not shared:
        if not paths:
            cache.keep_only(set(absolutes))
        cache.save()
    if not paths and workspace.settings.signatures != "off":
        findings += signer_findings(workspace)
    findings.sort()
    return findings


def check_file(path: Path, workspace: Workspace, context: LintContext) -> Checked:
    """Load one file and run every per-file rule on it."""
    from ..queue import row_fields

    context.reads.clear()
    try:
        packet = load_packet(path, workspace.settings.max_file_bytes, workspace.real_root_text)
    except LoadFailure as failure:
        placed = [(failure.code, failure.line, failure.column, failure.message)]
        placed += _markers(path, failure, workspace.settings.max_file_bytes)
        issues = [i for i in placed if severity_of(workspace, i[0]) != "off"]
        return Checked(issues, None, [], [], {"problem": f"{failure.code} {failure.message}",
                                              "max": workspace.settings.max_file_bytes}, None)
    found = [i for i in check_packet(packet, context) if severity_of(workspace, i.code) != "off"]
    reads = [list(r) for r in context.reads]
    context.reads.clear()
    row = {"fields": row_fields(packet.data), "max": workspace.settings.max_file_bytes}
    directives = file_directives(packet.text) if packet.kind == "md" else []
    return Checked(_positions(packet, found), packet.run_id, reads, directives, row,
                   content_hash(packet.text.encode("utf-8")), reads_key(reads))


def _cached(cache: ResultCache, path: str, st: os.stat_result, in_exceptions: bool,
            workspace: Workspace, evidence_memo: dict[str, tuple[bool, str | None]],
            reads_checked: dict[int, bool]) -> Checked | None:
    part = cache.part(path, st, "lint")
    try:
        if not isinstance(part, dict) or part.get("ex") is not in_exceptions:
            return None
        index = part.get("reads")
        if not isinstance(index, int) or isinstance(index, bool):
            return None
        unchanged = reads_checked.get(index)
        if unchanged is None:  # each list of reads is checked once per run
            unchanged = reads_checked[index] = reads_unchanged(
                workspace, evidence_memo, cache.reads_at(index))
        if not unchanged:
            return None
        issues = part["issues"]
        if issues:  # a clean file (the most) has none to convert
            issues = [(str(c), int(line), int(col), str(m)) for c, line, col, m in issues]
            if any(code not in RULES_BY_CODE for code, *_ in issues):
                return None
        elif issues != []:
            return None
        run_id = part.get("rid")
        if run_id is not None and not isinstance(run_id, str):
            return None
        directives = part["directives"]
        if directives:
            directives = [Directive(str(given), None if code is None else str(code),
                                    int(line), int(column))
                          for given, code, line, column in directives]
            if any(d.code is not None and d.code not in RULES_BY_CODE for d in directives):
                return None
        elif directives != []:
            return None
    except (TypeError, ValueError, KeyError):
        return None  # an entry of another shape: check the file again
    return Checked(issues, run_id, [], directives, None, None)


def check_all(items: list[Any], check: Callable[[Any], Checked], workers: int | None,
              record: Callable[[Any, Checked], None] | None = None) -> list[Checked]:
    """check(item) for every item, in order; large runs are shared with forked workers.
    `record(item, checked)` is called once per item as its result comes in (in any order)."""
    if workers is None:
        workers = usable_cores() if len(items) >= POOL_MIN_FILES else 1
    if workers <= 1 or len(items) < 2 or not _can_fork():
        serial = [check(item) for item in items]
        if record is not None:
            for item, checked in zip(items, serial, strict=True):
                record(item, checked)
        return serial
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # Small chunks: the workers take them from the front, this process works from the back and
    # takes over every chunk no worker has started, so all finish at about the same time; in
    # between it records the chunks the workers finished.
    size = max(1, min(CHUNK_MAX, len(items) // (workers * 8)))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    done: list[list[Checked] | None] = [None] * len(chunks)

    def finish(index: int, part: list[Checked]) -> None:
        done[index] = part
        if record is not None:
            for item, checked in zip(chunks[index], part, strict=True):
                record(item, checked)

    with ProcessPoolExecutor(workers - 1, mp_context=multiprocessing.get_context("fork"),
                             initializer=_set_worker_check, initargs=(check,)) as pool:
        futures = [pool.submit(_check_chunk, chunk) for chunk in chunks]
        collected = 0  # chunks before this one are all recorded
        for index in range(len(chunks) - 1, -1, -1):
            if futures[index].cancel():
                finish(index, [check(item) for item in chunks[index]])
            while collected < index and futures[collected].done():
                finish(collected, [Checked.from_compact(v) for v in futures[collected].result()])
                collected += 1
        results: list[Checked] = []
        for index, future in enumerate(futures):
            part = done[index]
            if part is None:
                part = [Checked.from_compact(values) for values in future.result()]
                finish(index, part)
            results += part
    return results


CHUNK_MAX = 200
_worker_check: Callable[[Any], Checked] | None = None  # set once in each forked worker


def _set_worker_check(check: Callable[[Any], Checked]) -> None:
    global _worker_check
    _worker_check = check


def _check_chunk(chunk: list[Any]) -> list[tuple[Any, ...]]:
    assert _worker_check is not None
    return [_worker_check(item).compact() for item in chunk]


def _can_fork() -> bool:
    import multiprocessing
    import threading

    # fork copies the loaded runbook and rules for free; with threads running it is unsafe.
    return (sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1)


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def context_files(workspace: Workspace) -> list[Path]:
    """Workspace-wide files whose bytes the findings depend on (besides packets, templates and
    recorded reads): their content keys the cache. A rule reading another such file adds it."""
    files = [workspace.config_path, workspace.runbook_path]
    if workspace.settings.signatures != "off":  # H801-H802 verify with these and ssh-keygen
        files += [p for p in (workspace.allowed_signers_path, workspace.revoked_keys_path) if p]
    return files


def context_digest(workspace: Workspace, placeholders: frozenset[str]) -> str:
    """One digest of everything outside the packet that every finding may depend on."""
    import hashlib

    digest = hashlib.sha256()
    ssh_keygen = ""
    if workspace.settings.signatures != "off":
        import shutil

        ssh_keygen = shutil.which("ssh-keygen") or ""
    for part in (workspace.real_root_text, repr(workspace.settings), ssh_keygen,
                 "\n".join(sorted(placeholders))):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    for path in context_files(workspace):
        try:
            digest.update(path.read_bytes())
        except OSError as exc:
            digest.update(f"unreadable {exc.errno}".encode())
        digest.update(b"\0")
    return digest.hexdigest()


def signer_findings(workspace: Workspace) -> list[Finding]:
    """H803: the allowed-signers file itself (checked by a whole run when signatures are on)."""
    from ..signing import signer_problems

    path = workspace.allowed_signers_path
    if path is None:
        return []
    problems = [("H803", line, 1, message) for line, message in signer_problems(workspace)]
    return _placed(workspace, _relative(path, workspace.root), problems)


def suppressed(workspace: Workspace, path: Path, placed: list[Placed],
               directives: list[Directive], use: SuppressionUse) -> list[Placed]:
    """A file's placed issues after its `# handoff: disable=` comments and handoff.yaml's
    `lint.ignore` (suppress.py), with an H901 for each suppression that suppressed nothing."""
    settings = workspace.settings
    if not directives and not settings.lint_ignore:
        return placed
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(workspace.root))
    inside = None if relative.startswith("..") else relative.replace(os.sep, "/")
    matching = matching_entries(settings.lint_ignore, inside)
    return suppress_file(placed, directives, settings.lint_ignore, matching, use,
                         settings.file_suppressions)


def _markers(path: Path, failure: LoadFailure, max_bytes: int) -> list[Placed]:
    """H113 for a file that did not parse: conflict markers are the likely reason why."""
    from ..packet import read_packet_text

    if failure.code not in ("H106", "H107", "H108", "H109", "H110"):
        return []
    try:
        text = read_packet_text(path, max_bytes)
    except (LoadFailure, OSError):
        return []
    return [(i.code, i.line or 1, 1, i.message) for i in conflict_marker_issues(text)]


def check_packet(packet: Packet, context: LintContext) -> Iterable[Issue]:
    """Every issue the rules find in one loaded packet."""
    for check in CHECKS:
        for issue in check(packet, context):
            if context.in_exceptions and not RULES_BY_CODE[issue.code].in_exceptions:
                continue
            yield issue


QueueFolder = tuple[Path, "set[str] | None", str]  # folder, its entry names if read, as text


def queue_folders(workspace: Workspace,
                  folder_names: dict[Path, set[str]] | None = None) -> list[QueueFolder]:
    """The queue folders for duplicate_issues: each with its entry names (when read) and its
    absolute path as text ending in a separator."""
    return [(folder, folder_names.get(folder, set()) if folder_names is not None else None,
             os.path.abspath(folder) + os.sep)
            for folder in (workspace.packets_dir, workspace.exceptions_dir)]


def duplicate_issues(run_id: str | None, path: Path | str, workspace: Workspace,
                     seen_ids: dict[str, str], shown: str,
                     queue_listing: set[str] | None,
                     folder_names: dict[Path, set[str]] | None = None,
                     folders: list[QueueFolder] | None = None) -> list[Issue]:
    """H601: a runId seen earlier in this run, or a same-named packet elsewhere in the queues
    (found from the listing of a full run, else by looking for the twin files, among the names
    in `folder_names` when given)."""
    if run_id is None:
        return []
    if run_id in seen_ids:
        where = seen_ids[run_id]
        return [Issue("H601", ("runId",), f"duplicate runId '{run_id}' (also in {where})")]
    seen_ids[run_id] = shown
    if queue_listing is not None or path_stem(os.fspath(path)) != run_id:
        return []
    own = None
    own_text = os.path.abspath(path)
    for folder, names, folder_text in folders or queue_folders(workspace, folder_names):
        for suffix in PACKET_SUFFIXES:
            name = f"{run_id}{suffix}"
            if names is not None and name not in names:
                continue
            if folder_text + name == own_text:
                continue  # the file itself (the same path: the same real file)
            twin = folder / name
            if not twin.is_file():
                continue
            own = own or os.path.realpath(path)
            if os.path.realpath(twin) != own:
                where = _relative(twin, workspace.root)
                return [Issue("H601", ("runId",), f"duplicate runId '{run_id}' (also in {where})")]
    return []


def path_stem(text: str) -> str:
    """Path(text).stem without making a Path: the last component without its last suffix."""
    name = text.rstrip(os.sep).rpartition(os.sep)[2] if os.sep in text else text
    if name in ("", ".", ".."):
        return Path(text).stem
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def queue_folder_names(workspace: Workspace) -> dict[Path, set[str]]:
    """The entry names of the review and exception queue folders."""
    names: dict[Path, set[str]] = {}
    for folder in (workspace.packets_dir, workspace.exceptions_dir):
        try:
            names[folder] = set(os.listdir(folder))
        except (OSError, ValueError):
            names[folder] = set()
    return names


def template_placeholders(workspace: Workspace) -> frozenset[str]:
    """Placeholder names used by the workspace's templates (to spot unfilled ones)."""
    from ..store import read_regular

    names: set[str] = set()
    folder = workspace.templates_dir
    if folder.is_dir():
        real_folder = os.path.realpath(folder)
        for template in folder.glob("*.md"):
            real = os.path.realpath(template)  # a link inside templates/ is read, never one out
            if not real.startswith(real_folder + os.sep):
                continue
            raw = read_regular(Path(real), workspace.settings.max_file_bytes)  # never a FIFO
            try:
                text = raw.decode("utf-8") if raw is not None else ""
            except UnicodeDecodeError:
                continue
            text = MODELINE.sub("", text)  # `$schema=` in the editor modeline is no placeholder
            names.update(m.group(1) or m.group(2) for m in PLACEHOLDER.finditer(text))
    return frozenset(names)


def _positions(packet: Packet, issues: list[Issue]) -> list[Placed]:
    placed = []
    for issue in issues:
        if issue.line is not None:
            line, column = issue.line, 1
        else:
            line, column = packet.position(issue.keypath)
        placed.append((issue.code, line, column, issue.message))
    return placed


def _placed(workspace: Workspace, shown: str, issues: list[Placed]) -> list[Finding]:
    findings = []
    for code, line, column, message in issues:
        severity = severity_of(workspace, code)
        if severity != "off":
            findings.append(Finding(shown, line, column, code, severity, message))
    return findings


def severity_of(workspace: Workspace, code: str) -> str:
    """A rule's severity in this workspace: handoff.yaml's setting, else the rule's default."""
    return workspace.settings.rule_severity.get(code, RULES_BY_CODE[code].severity)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _join_shown(given: Path, found: Path) -> str:
    try:
        return (given / found.relative_to(given)).as_posix()
    except ValueError:
        return str(found)


def lint_text(workspace: Workspace, path: Path, text: str) -> list[Finding]:
    """Lint a packet that is not written yet, as if its text were at `path` (for `new --strict`:
    nothing touches the disk). The duplicate-runId check is the caller's."""
    from ..packet import parse_json_object, parse_markdown

    shown = _relative(path, workspace.root)
    limit = workspace.settings.max_file_bytes
    if len(text.encode("utf-8", "replace")) > limit:  # what reading the file would refuse
        return _placed(workspace, shown,
                       [("H103", 1, 1, f"file is larger than the {limit}-byte limit")])
    if "\x00" in text:
        return _placed(workspace, shown, [("H104", text.count("\n", 0, text.index("\x00")) + 1,
                                           1, "file is binary (contains NUL bytes)")])
    try:
        if path.suffix.lower() == ".json":
            packet = Packet(path=path, kind="json", text=text, data=parse_json_object(text))
        else:
            packet = parse_markdown(path, text)
    except LoadFailure as failure:
        return _placed(workspace, shown,
                       [(failure.code, failure.line, failure.column, failure.message)])
    in_exceptions = os.path.abspath(path).startswith(os.path.abspath(workspace.exceptions_dir)
                                                     + os.sep)
    context = LintContext(workspace, workspace.runbook, template_placeholders(workspace),
                          in_exceptions=in_exceptions)
    issues = [i for i in check_packet(packet, context) if severity_of(workspace, i.code) != "off"]
    return sorted(_placed(workspace, shown, _positions(packet, issues)))


def error_counts_of(workspace: Workspace, paths: Sequence[str], use_cache: bool = True,
                    shared: ResultCache | None = None,
                    stats: Sequence[os.stat_result | None] | None = None) -> dict[str, int]:
    """error_counts for paths given as text (the queue's many files: no Path made of each),
    with each file's cacheable_stat when the caller took it already."""
    if not paths:
        return {}
    counts = dict.fromkeys(paths, 0)
    targets = [Target(path, path, st) for path, st in zip(paths, stats or [None] * len(paths),
                                                          strict=True)]
    for finding in lint_paths(workspace, [Path(paths[0])], use_cache=use_cache, shared=shared,
                              targets=targets):
        if finding.severity == "error" and finding.path in counts:
            counts[finding.path] += 1
    return counts


def error_counts(workspace: Workspace, paths: Sequence[Path], use_cache: bool = True,
                 shared: ResultCache | None = None,
                 ignore: frozenset[str] = frozenset()) -> dict[Path, int]:
    """How many lint errors each packet file has, exactly as `handoff lint PATH...` counts them
    (severities, suppressions, twins): the reviewer's "not ready" mark. One lint run for all.
    Findings of the `ignore` rules are not counted."""
    if not paths:
        return {}
    counts = {path: 0 for path in paths}
    by_shown = {str(path): path for path in paths}
    for finding in lint_paths(workspace, list(paths), use_cache=use_cache, shared=shared):
        path = by_shown.get(finding.path)
        if path is not None and finding.severity == "error" and finding.rule not in ignore:
            counts[path] += 1
    return counts
