"""Git as the shared store: bring the branch up to date, write, commit only the packet, push.

The git CLI runs as a subprocess (never a shell) with a timeout; a failure is a GitError, and
a packet someone else changed on the remote first is a ConflictError (exit 3) after the local
branch has been put back to the remote's version.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError, ConflictError, GitError
from .workspace import Workspace

T = TypeVar("T")

GIT_TIMEOUT = 120.0
LOCK_TIMEOUT = 120.0
# A push refused for one of these reasons is retried after fetching: the remote moved.
_MOVED = ("fetch first", "non-fast-forward", "stale info", "failed to update ref",
          "cannot lock ref", "failed to lock", "incorrect old value")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclass(frozen=True)
class Backoff:
    """How pushes are retried when the remote moved: at most `attempts` pushes, sleeping a
    random time up to base * 2**n (capped) between them, so racing clones spread out."""

    attempts: int = 30
    base: float = 0.05
    cap: float = 2.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random

    def delay(self, attempt: int) -> float:
        """Seconds to wait before push number `attempt + 2` (full jitter)."""
        return self.jitter() * min(self.cap, self.base * (1 << min(attempt, 30)))


@dataclass(frozen=True)
class Change:
    """What one command wrote: the files to commit and the commit message."""

    paths: tuple[Path, ...]
    subject: str
    run_ids: tuple[str, ...]
    event: str
    creates: bool = False  # new packets: a loser's file is kept aside, never lost

    @property
    def noun(self) -> str:
        return {"decided": "decision", "returned": "return", "closed": "close",
                "created": "new packet", "routed": "routing"}.get(self.event, self.event)

    def message(self) -> str:
        trailers = [f"Handoff-Run-Id: {run_id}" for run_id in self.run_ids]
        trailers.append(f"Handoff-Event: {self.event}")
        return f"{self.subject}\n\n" + "\n".join(trailers) + "\n"


@dataclass(frozen=True)
class SyncResult:
    """What `sync` did: commits brought in from the remote and commits pushed to it."""

    pulled: int
    pushed: int
    remote: str
    branch: str

    def as_dict(self) -> dict[str, Any]:
        return {"pulled": self.pulled, "pushed": self.pushed, "remote": self.remote,
                "branch": self.branch}


@dataclass
class Repo:
    """The git work tree a workspace lives in, its branch, and where that branch is pushed."""

    top: Path
    git_dir: Path  # this work tree's: a rebase in progress shows here
    common_dir: Path  # shared by linked work trees: the lock lives here
    branch: str
    remote: str
    remote_branch: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def tracking(self) -> str:
        return f"refs/remotes/{self.remote}/{self.remote_branch}"

    def git(self, *args: str, check: bool = True, stdin: str | None = None,
            timeout: float = GIT_TIMEOUT) -> subprocess.CompletedProcess[str]:
        """Run `git -C top ARGS`; a non-zero exit (when check) is a GitError with git's words."""
        return run_git(self.top, args, env=self.env, check=check, stdin=stdin, timeout=timeout)

    def relpath(self, path: Path) -> str:
        """A path as git names it: relative to the work tree's top, with '/'."""
        return Path(os.path.relpath(os.path.abspath(path), self.top)).as_posix()

    def head(self) -> str:
        return self.git("rev-parse", "--verify", "HEAD").stdout.strip()


def git_env() -> dict[str, str]:
    """The environment git runs in: never prompts, English messages (they are parsed)."""
    env = dict(os.environ)
    env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "LANGUAGE": "C",
                "GIT_EDITOR": "true", "GIT_SEQUENCE_EDITOR": "true", "GIT_MERGE_AUTOEDIT": "no",
                "GIT_LITERAL_PATHSPECS": "1"})
    return env


def run_git(cwd: Path, args: Sequence[str], *, env: dict[str, str] | None = None,
            check: bool = True, stdin: str | None = None,
            timeout: float = GIT_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run git in `cwd` without a shell; errors and timeouts become GitError."""
    git = shutil.which("git")
    if git is None:
        raise ConfigError("git is not installed (needed by --push, sync and wait --pull)")
    try:
        result = subprocess.run([git, "-C", str(cwd), *args], capture_output=True, text=True,
                                env=env or git_env(), input=stdin, timeout=timeout, check=False,
                                encoding="utf-8", errors="replace")
    except subprocess.TimeoutExpired:
        raise GitError(f"'git {' '.join(args[:2])}' took longer than {timeout:g}s; "
                       "nothing more was done", cwd) from None
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror or exc}", cwd) from None
    if check and result.returncode != 0:
        raise GitError(f"'git {' '.join(args[:2])}' failed: {_last_words(result)}", cwd)
    return result


def _last_words(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (result.stderr or result.stdout).splitlines()
             if line.strip() and not line.startswith("hint:")]
    return " / ".join(lines[-3:]) or f"exit {result.returncode}"


def open_repo(workspace: Workspace) -> Repo:
    """The git work tree holding the workspace (which may be a subfolder of it)."""
    env = git_env()
    found = run_git(workspace.root, ["rev-parse", "--show-toplevel", "--git-common-dir",
                                     "--git-dir"], env=env, check=False)
    if found.returncode != 0:
        raise ConfigError("the workspace is not inside a git work tree (needed by --push, "
                          "sync, wait --pull and git.push in handoff.yaml); run 'git init' "
                          "and add a remote, or turn git.push off", workspace.root)
    top_text, common_text, git_dir_text = found.stdout.splitlines()[:3]
    top = Path(top_text)
    # rev-parse prints these relative to the folder it ran in (the workspace root).
    common_dir, git_dir = ((workspace.root / text).resolve() for text in (common_text,
                                                                          git_dir_text))
    branch = run_git(top, ["symbolic-ref", "-q", "--short", "HEAD"], env=env, check=False)
    if branch.returncode != 0 or not branch.stdout.strip():
        raise GitError("HEAD is detached; check out the branch the team shares first", top)
    name = branch.stdout.strip()
    remote = _config(top, env, f"branch.{name}.remote") or workspace.settings.git_remote
    remote = remote or "origin"
    if workspace.settings.git_remote and remote == ".":
        remote = workspace.settings.git_remote
    merge = _config(top, env, f"branch.{name}.merge") or f"refs/heads/{name}"
    remote_branch = merge.removeprefix("refs/heads/")
    if run_git(top, ["remote", "get-url", "--", remote], env=env, check=False).returncode:
        raise ConfigError(f"the git remote '{remote}' does not exist (git remote add {remote} "
                          "URL, or set git.remote in handoff.yaml)", top)
    return Repo(top=top, git_dir=git_dir, common_dir=common_dir, branch=name, remote=remote,
                remote_branch=remote_branch, env=env)


def _config(top: Path, env: dict[str, str], key: str) -> str | None:
    result = run_git(top, ["config", "--get", key], env=env, check=False)
    return result.stdout.strip() or None


@contextlib.contextmanager
def repo_lock(repo: Repo) -> Iterator[None]:
    """One handoff git operation at a time in this clone (a lock file in its .git folder)."""
    from filelock import FileLock, Timeout

    try:
        with FileLock(str(repo.common_dir / "handoff.lock"), timeout=LOCK_TIMEOUT):
            yield
    except Timeout:
        raise ConflictError("another handoff command is syncing this clone with git; "
                            "try again", repo.top) from None


def check_idle(repo: Repo) -> None:
    """Refuse to start while a rebase, merge or cherry-pick of the person's is in progress, or
    on a branch without a commit (the workspace itself must be shared first)."""
    if _rev(repo, "HEAD") is None:
        raise ConfigError(f"the branch '{repo.branch}' has no commit yet: commit the workspace "
                          "(handoff.yaml, runbooks/, templates/) and push it once, then the "
                          "packets can follow", repo.top)
    for name, what in (("rebase-merge", "a rebase"), ("rebase-apply", "a rebase or am"),
                       ("MERGE_HEAD", "a merge"), ("CHERRY_PICK_HEAD", "a cherry-pick"),
                       ("REVERT_HEAD", "a revert")):
        if (repo.git_dir / name).exists():
            raise GitError(f"{what} is in progress in this clone; finish or abort it first",
                           repo.top)


def fetch(repo: Repo) -> str | None:
    """Fetch the shared branch; its commit id, or None when the remote has no such branch."""
    result = repo.git("fetch", "--quiet", "--no-tags", "--", repo.remote,
                      f"+refs/heads/{repo.remote_branch}:{repo.tracking}", check=False)
    if result.returncode != 0:
        if "couldn't find remote ref" in result.stderr:
            return None
        raise GitError(f"cannot fetch from '{repo.remote}': {_last_words(result)}", repo.top)
    return _rev(repo, repo.tracking)


def _rev(repo: Repo, ref: str) -> str | None:
    result = repo.git("rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False)
    return result.stdout.strip() or None


def _is_ancestor(repo: Repo, older: str, newer: str) -> bool:
    return repo.git("merge-base", "--is-ancestor", older, newer, check=False).returncode == 0


def _count(repo: Repo, spec: str) -> int:
    return int(repo.git("rev-list", "--count", spec).stdout.strip() or 0)


def dirty_paths(repo: Repo) -> set[str]:
    """Work-tree paths with uncommitted changes, staged or not, and untracked files."""
    out = repo.git("status", "--porcelain=v1", "-z", "--untracked-files=all",
                   "--no-renames").stdout
    return {entry[3:] for entry in out.split("\0") if len(entry) > 3}


def changed_paths(repo: Repo, old: str, new: str) -> set[str]:
    """Paths that differ between two commits."""
    out = repo.git("diff", "--name-only", "-z", "--no-renames", old, new, "--").stdout
    return {name for name in out.split("\0") if name}


def catch_up(repo: Repo, upstream: str | None) -> int:
    """Rebase the branch onto the fetched `upstream`, keeping the person's uncommitted work
    (autostash); the number of commits brought in. Work the remote also changed is refused
    before anything moves; a rebase that fails is aborted, never left half-done."""
    if upstream is None:
        return 0
    head = repo.head()
    if _is_ancestor(repo, upstream, head):
        return 0
    base = repo.git("merge-base", head, upstream, check=False).stdout.strip()
    incoming = changed_paths(repo, base or head, upstream)
    clash = sorted(dirty_paths(repo) & incoming)
    if clash:
        raise GitError(f"your uncommitted changes to {_names(clash)} would clash with the "
                       "remote's; commit or stash them, then try again (nothing was changed)",
                       repo.top)
    pulled = _count(repo, f"{head}..{upstream}")
    result = repo.git("rebase", "--autostash", "--quiet", upstream, check=False)
    if result.returncode != 0:
        repo.git("rebase", "--abort", check=False)
        raise GitError(f"your local commits do not rebase cleanly onto {repo.remote}/"
                       f"{repo.remote_branch} ({_last_words(result)}); the rebase was aborted "
                       "and nothing was changed: resolve it with 'git pull --rebase'", repo.top)
    if "autostash resulted in conflicts" in result.stdout + result.stderr:
        raise GitError("your uncommitted changes clashed with the remote's; they are kept in "
                       "'git stash list'", repo.top)  # defended against above; never silent
    return pulled


def _names(paths: Sequence[str], most: int = 3) -> str:
    shown = ", ".join(paths[:most])
    return shown + (f" and {len(paths) - most} more" if len(paths) > most else "")


def commit(repo: Repo, change: Change) -> bool:
    """Commit only the change's files (other staged work stays staged); False if unchanged."""
    names = sorted({repo.relpath(p) for p in change.paths})
    if not names:
        return False
    repo.git("add", "--all", "--", *names)
    staged = repo.git("diff", "--cached", "--quiet", "HEAD", "--", *names, check=False)
    if staged.returncode == 0:
        return False
    repo.git("commit", "--quiet", "--no-verify", "--only", "-F", "-", "--", *names,
             stdin=change.message())
    return True


def push(repo: Repo) -> bool:
    """Push the branch; True when it landed, False when the remote moved (retry after a
    fetch). Any other refusal is a GitError."""
    result = repo.git("push", "--porcelain", "--quiet", "--", repo.remote,
                      f"HEAD:refs/heads/{repo.remote_branch}", check=False)
    if result.returncode == 0:
        return True
    said = (result.stdout + "\n" + result.stderr).lower()
    if any(reason in said for reason in _MOVED):
        return False
    raise GitError(f"cannot push to '{repo.remote}': {_last_words(result)}; your change is "
                   "committed in this clone: run 'handoff sync' to push it later", repo.top)


def publish(workspace: Workspace, write: Callable[[], T],
            change_of: Callable[[T], Change | None] | None = None,
            backoff: Backoff | None = None) -> T:
    """Run `write` as a shared-store change: fetch and rebase first (so that the write checks
    the packet as the remote has it), then commit only the files it wrote and push, retrying
    when the remote moved. When someone else changed one of those files on the remote first,
    the local branch is put back to the remote's version and ConflictError names who did it.
    Notification hooks fire only once the change is final (never for a change that lost)."""
    from .hooks import held, release

    with held() as pending:
        result = _publish(workspace, write, change_of, backoff)
    return _with_hook_problems(result, release(pending))


def _with_hook_problems(result: T, problems: tuple[str, ...]) -> T:
    """The write's result carrying the problems of the hooks fired after the push."""
    import dataclasses

    if not problems or not dataclasses.is_dataclass(result) or isinstance(result, type):
        return result
    if hasattr(result, "hook_problems"):
        merged = (*result.hook_problems, *problems)
        return dataclasses.replace(result, hook_problems=merged)
    if hasattr(result, "notes"):  # a RouteReport
        from .routing import RouteNote

        notes = (*result.notes, *(RouteNote("hooks", p) for p in problems))
        return dataclasses.replace(result, notes=notes)
    return result


def _publish(workspace: Workspace, write: Callable[[], T],
             change_of: Callable[[T], Change | None] | None,
             backoff: Backoff | None) -> T:
    repo = open_repo(workspace)
    backoff = backoff or Backoff(attempts=workspace.settings.git_retries)
    with repo_lock(repo):
        check_idle(repo)
        catch_up(repo, fetch(repo))
        result = write()
        change = (change_of or (lambda r: change_for(workspace, r)))(result)
        if change is None:
            return result
        base = repo.head()
        try:
            committed = commit(repo, change)
        except GitError as exc:
            raise GitError(f"{exc.message}; the change is written in this clone but not "
                           "committed", exc.path) from None
        if not committed:
            return result
        _push_change(workspace, repo, change, base, backoff)
    return result


def _push_change(workspace: Workspace, repo: Repo, change: Change, base: str,
                 backoff: Backoff) -> None:
    names = {repo.relpath(p) for p in change.paths}
    for attempt in range(backoff.attempts):
        if push(repo):
            return
        if attempt + 1 == backoff.attempts:
            break
        backoff.sleep(backoff.delay(attempt))
        upstream = fetch(repo)
        if upstream is not None and upstream != base:
            touched = sorted(changed_paths(repo, base, upstream) & names)
            if touched:
                _lose(workspace, repo, change, upstream, touched)
            base = upstream
        try:
            catch_up(repo, upstream)
        except GitError as exc:
            raise GitError(f"{exc.message.replace(' (nothing was changed)', '')}; your change "
                           "is committed in this clone but not pushed: run 'handoff sync' "
                           "once that is sorted out", exc.path) from None
    raise ConflictError(f"the remote kept moving: {backoff.attempts} pushes were refused; "
                        "your change is committed in this clone: run 'handoff sync' to push "
                        "it", repo.top)


def _lose(workspace: Workspace, repo: Repo, change: Change, upstream: str,
          touched: Sequence[str]) -> None:
    """Someone else's change to our files landed first: drop our commit, take the remote's
    version (keeping the person's other work), and raise ConflictError saying who and when."""
    kept: list[str] = []
    if change.creates:
        kept = _keep_aside(workspace, repo, change)
    repo.git("reset", "--quiet", "--keep", "HEAD~1")
    catch_up(repo, upstream)
    path = repo.top / touched[0]
    why = describe_remote(workspace, path)
    extra = f"; your version is kept in {', '.join(kept)}" if kept else ""
    raise ConflictError(f"{why}; your {change.noun} was not recorded and this clone now has "
                        f"the remote's version{extra}", workspace.relative(path))


def _keep_aside(workspace: Workspace, repo: Repo, change: Change) -> list[str]:
    from .store import create_exclusive, state_folder

    # A fresh clone has no .handoff/: state_folder makes it with the .gitignore that keeps the
    # copies out of git, and never writes through a link planted in it.
    folder = state_folder(workspace.state_dir, "conflicts")
    kept = []
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for path in change.paths:
        if path.is_file():
            data = path.read_bytes()
            for attempt in range(1, 100):
                extra = f"-{attempt}" if attempt > 1 else ""
                target = folder / f"{path.stem}.{stamp}{extra}{path.suffix}"
                if create_exclusive(target, data):
                    kept.append(workspace.relative(target))
                    break
    return kept


def describe_remote(workspace: Workspace, path: Path) -> str:
    """Who changed a packet on the remote and when, from its decision or its last event."""
    from .review import reload

    if not path.exists():
        return "the remote moved or removed this packet"
    try:
        data = reload(workspace, path).data
    except Exception:  # an unreadable remote version is still a lost race, said plainly
        return "someone else changed this packet on the remote first"
    decision = data.get("decision")
    history = data.get("history")
    last = history[-1] if isinstance(history, list) and history else None
    status = data.get("status")
    if isinstance(decision, dict) and status in ("decided", "returned"):
        verb = "decided" if status == "decided" else "returned"
        what = f" '{_clean(decision.get('option'))}'" if status == "decided" else ""
        return (f"already {verb}{what} by {_clean(decision.get('by'))} at "
                f"{_clean(decision.get('at'))} on the remote")
    if isinstance(last, dict):
        return (f"changed on the remote first ({_clean(last.get('event'))} by "
                f"{_clean(last.get('by'))} at {_clean(last.get('at'))})")
    return "someone else changed this packet on the remote first"


def _clean(value: Any, limit: int = 120) -> str:
    """Agent-written text for a commit message or an error: one line, bounded."""
    text = _CONTROL.sub(" ", str(value if value is not None else "?")).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def change_for(workspace: Workspace, result: Any) -> Change | None:
    """The commit for what decide, return, close, new or route returned."""
    from .agentedit import Edited
    from .api import NewPacket
    from .decisions import Recorded
    from .routing import RouteReport

    if isinstance(result, Recorded):
        event = result.event
        name = str(event.get("event") or result.status)  # e.g. resubmitted (status open)
        subject = f"handoff: {_clean(name)} {_clean(result.run_id)}"
        if result.status == "decided":
            subject += f" '{_clean(event.get('option'))}'"
        elif result.status == "returned":
            missing = event.get("missing") or []
            subject += f" (missing: {_clean(', '.join(str(m) for m in missing))})"
        return Change((result.path,), subject, (_clean(result.run_id),), _clean(name))
    if isinstance(result, Edited):
        if not result.changed:
            return None
        keys = ", ".join([*result.keys, *(["body"] if result.body else [])])
        return Change((result.path,), f"handoff: edited {_clean(result.run_id)} "
                      f"({_clean(keys)})", (_clean(result.run_id),), "edited")
    if isinstance(result, NewPacket):
        if result.replaced is not None:  # new --replaces also closed the returned packet
            return Change((result.path, result.replaced),
                          f"handoff: created {_clean(result.run_id)}, replacing "
                          f"{_clean(result.replaced.stem)}",
                          (_clean(result.run_id), _clean(result.replaced.stem)), "resubmitted",
                          creates=True)
        return Change((result.path,), f"handoff: created {_clean(result.run_id)}",
                      (_clean(result.run_id),), "created", creates=True)
    if isinstance(result, RouteReport):
        if result.dry_run or not result.changes:
            return None
        paths: list[Path] = []
        for item in result.changes:
            paths.append(workspace.root / item.path)
            if item.field == "location" and item.new:
                paths.append(workspace.root / item.new)
        run_ids = tuple(dict.fromkeys(_clean(c.run_id) for c in result.changes))
        subject = (f"handoff: routed {run_ids[0]}" if len(run_ids) == 1
                   else f"handoff: routed {len(run_ids)} packets")
        return Change(tuple(paths), subject, run_ids, "routed")
    raise TypeError(f"no git change for {type(result).__name__}")


def sync(workspace: Workspace, backoff: Backoff | None = None) -> SyncResult:
    """Fetch, rebase onto the remote (keeping uncommitted work) and push local commits."""
    repo = open_repo(workspace)
    backoff = backoff or Backoff(attempts=workspace.settings.git_retries)
    with repo_lock(repo):
        check_idle(repo)
        upstream = fetch(repo)
        pulled = catch_up(repo, upstream)
        ahead = _count(repo, f"{upstream}..HEAD") if upstream else _count(repo, "HEAD")
        pushed = ahead
        for attempt in range(backoff.attempts):
            if ahead == 0 or push(repo):
                break
            if attempt + 1 == backoff.attempts:
                raise ConflictError(f"the remote kept moving: {backoff.attempts} pushes were "
                                    "refused; try 'handoff sync' again", repo.top)
            backoff.sleep(backoff.delay(attempt))
            upstream = fetch(repo)
            pulled += catch_up(repo, upstream)
    return SyncResult(pulled=pulled, pushed=pushed, remote=repo.remote,
                      branch=repo.remote_branch)


def pull(workspace: Workspace) -> int:
    """Fetch and rebase onto the remote (keeping uncommitted work); commits brought in."""
    repo = open_repo(workspace)
    with repo_lock(repo):
        check_idle(repo)
        return catch_up(repo, fetch(repo))


def push_wanted(workspace: Workspace, flag: bool | None) -> bool:
    """--push/--no-push when given, else handoff.yaml's git.push."""
    return workspace.settings.git_push if flag is None else flag
