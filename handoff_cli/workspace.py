"""Finding the workspace, reading handoff.yaml, and resolving paths safely inside it.

A workspace is a directory holding handoff.yaml; commands find it by walking up like git.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, NotFoundError, WorkspaceError

if TYPE_CHECKING:
    from .runbook import Runbook

CONFIG_NAME = "handoff.yaml"
ENV_WORKSPACE = "HANDOFF_WORKSPACE"
DEFAULT_MAX_FILE_BYTES = 1 << 20
MAX_MAX_FILE_BYTES = 1 << 30
SEVERITIES = ("error", "warning", "off")
PACKET_SUFFIXES = (".md", ".json")
DEFAULT_GIT_RETRIES = 30
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class IgnoreEntry:
    """One `lint.ignore` path pattern and the rules it ignores, with their handoff.yaml lines."""

    pattern: str
    codes: tuple[tuple[str, int], ...]  # (rule code, line)


@dataclass(frozen=True)
class Settings:
    """The parsed contents of handoff.yaml."""

    runbook: str = "runbooks/default.yaml"
    templates: str = "templates"
    packets: str = "packets"
    exceptions: str = "exceptions"
    packet_format: str = "md"
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    rule_severity: Mapping[str, str] = field(default_factory=dict)
    lint_ignore: tuple[IgnoreEntry, ...] = ()  # lint.ignore: {pattern: [rules]}
    file_suppressions: bool = True  # lint.fileSuppressions: honour `# handoff: disable=`
    signatures: str = "off"  # decisions.signatures: off, optional or required
    allowed_signers: str | None = None  # decisions.allowedSigners (OpenSSH allowed-signers)
    revoked_keys: str | None = None  # decisions.revokedKeys (passed to ssh-keygen as -r)
    hooks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # event -> commands
    hook_timeout: float = 10.0
    git_push: bool = False  # git.push: --push is the default of every writing command
    git_remote: str | None = None  # git.remote: else the branch's upstream remote, else origin
    git_retries: int = DEFAULT_GIT_RETRIES  # git.retries: pushes tried when the remote moved


@dataclass(frozen=True)
class Workspace:
    """A workspace root and its settings; every path the tool touches is resolved from here."""

    root: Path
    settings: Settings

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def packets_dir(self) -> Path:
        return self.root / self.settings.packets

    @property
    def exceptions_dir(self) -> Path:
        return self.root / self.settings.exceptions

    @property
    def templates_dir(self) -> Path:
        return self.root / self.settings.templates

    @property
    def runbook_path(self) -> Path:
        return self.root / self.settings.runbook

    @property
    def state_dir(self) -> Path:
        """Tool-private state (locks, cache); ignored by git."""
        return self.root / ".handoff"

    @property
    def allowed_signers_path(self) -> Path | None:
        """decisions.allowedSigners, resolved from the workspace root."""
        value = self.settings.allowed_signers
        return None if value is None else self.root / Path(value).expanduser()

    @property
    def revoked_keys_path(self) -> Path | None:
        """decisions.revokedKeys, resolved from the workspace root."""
        value = self.settings.revoked_keys
        return None if value is None else self.root / Path(value).expanduser()

    @cached_property
    def real_root(self) -> Path:
        return self.root.resolve()

    @cached_property
    def real_root_text(self) -> str:
        return str(self.real_root)

    @cached_property
    def runbook(self) -> Runbook:
        from .runbook import load_runbook

        try:
            return load_runbook(self.runbook_path)
        except ConfigError as exc:  # name the file as the user knows it, from the workspace
            if isinstance(exc.path, Path):
                exc.path = self.relative(exc.path)
            raise

    def template_text(self, type_name: str) -> str | None:
        """The text of a handoff type's template, or None when its file does not exist.

        The runbook's `template:` must lead (symlinks followed) to a regular file inside
        templates/ (else a broken runbook, exit 2, naming the runbook's line; a FIFO or device
        is never opened) of UTF-8 text and at most lint.maxFileBytes bytes (else exit 2
        naming the template)."""
        import stat

        from .store import file_kind, read_regular

        kind = self.runbook.types[type_name]
        path = self.templates_dir / kind.template
        limit = self.settings.max_file_bytes

        def fail(problem: str) -> ConfigError:
            from .yamlio import line_of, read_text_bounded

            try:  # the line of `template:` (else of the type), found only when it is needed
                line = line_of(read_text_bounded(self.runbook_path, 1 << 20),
                               ("handoffTypes", type_name, "template"))
            except ConfigError:
                line = None
            return ConfigError(f"broken runbook: template '{kind.template}' of '{type_name}' "
                               f"{problem}", self.relative(self.runbook_path), line)

        real_folder = os.path.realpath(self.templates_dir)
        where = leads_outside(real_folder, path)
        if where is not None:
            raise fail(f"leads outside {self.settings.templates}/ through a symlink (to {where})")
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise fail(f"cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
        if not stat.S_ISREG(info.st_mode):
            raise fail(f"is {file_kind(info.st_mode)}, not a file")
        # The file itself is at fault from here on: name it rather than the runbook's line.
        too_large = ConfigError(f"template is larger than the {limit}-byte packet size limit "
                                "(lint.maxFileBytes)", self.relative(path))
        if info.st_size > limit:
            raise too_large
        raw = read_regular(Path(os.path.realpath(path)), limit)  # never a FIFO swapped in
        if raw is None:
            raise fail("cannot be read as a regular file")
        if len(raw) > limit:
            raise too_large
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[:exc.start].count(b"\n") + 1
            raise ConfigError("template is not valid UTF-8", self.relative(path), line) from None

    def relative(self, path: Path) -> str:
        """A path as the user should see it: relative to the workspace when inside it."""
        try:  # the common case, a path built from the root: no filesystem calls
            return path.relative_to(self.root).as_posix()
        except ValueError:
            pass
        try:
            return path.resolve().relative_to(self.real_root).as_posix()
        except ValueError:
            return str(path)


def find_workspace(start: Path | None = None, explicit: Path | str | None = None) -> Workspace:
    """Locate the workspace: `explicit`, then $HANDOFF_WORKSPACE, then walk up from `start`."""
    chosen = explicit or os.environ.get(ENV_WORKSPACE) or None
    if chosen:
        root = Path(chosen).expanduser()
        if not (root / CONFIG_NAME).is_file():
            raise ConfigError(f"no {CONFIG_NAME} in workspace directory '{root}'")
        return open_workspace(root)
    try:
        here = (start or Path.cwd()).resolve()
    except OSError as exc:  # the current directory was deleted under us
        raise ConfigError(f"cannot find the current directory ({exc.strerror or exc}); "
                          "cd to a workspace or pass --workspace DIR") from None
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_NAME).is_file():
            return open_workspace(candidate)
    raise ConfigError(
        f"not inside a handoff workspace (no {CONFIG_NAME} here or in any parent); "
        "run 'handoff init' or pass --workspace DIR"
    )


def open_workspace(root: Path) -> Workspace:
    """Read handoff.yaml in `root` and check the workspace's boundaries."""
    from .yamlio import load_yaml_config

    path = root / CONFIG_NAME
    where = link_out_of(root, (CONFIG_NAME,))
    if where is not None:  # checked before it is read: nothing outside the workspace is read
        raise WorkspaceError(f"broken workspace: leads outside the workspace through a symlink "
                             f"(to {where}); refusing to use it: make it a file inside the "
                             "workspace", path)
    data, text = load_yaml_config(path)
    workspace = Workspace(root=root, settings=parse_settings(data, text, path))
    check_boundaries(workspace)
    return workspace


def leads_outside(real_root: str, path: Path | str) -> str | None:
    """Where `path` really leads when a symlink on its way (or at its end) takes it outside the
    folder whose real path is `real_root`; None when it stays inside (or cannot be resolved)."""
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):
        return None
    if real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep):
        return None
    return real


def link_out_of(root: Path, relative: tuple[str, ...],
                workspace: Workspace | None = None) -> str | None:
    """Where root/relative really leads when a symlink on its way takes it out of `root`, else
    None. Cheap on the common path (one lstat per component, no symlink: inside); only a
    symlink or a `..` on the way costs a full resolution."""
    import stat

    parts = [p for p in "/".join(relative).replace("\\", "/").split("/") if p not in ("", ".")]
    full = os.path.join(root, *parts)
    if ".." not in parts:
        current = os.fspath(root)
        for part in parts:
            current = os.path.join(current, part)
            try:
                mode = os.lstat(current).st_mode
            except FileNotFoundError:
                return None  # nothing beyond a missing entry can lead anywhere
            except (OSError, ValueError):
                break
            if stat.S_ISLNK(mode):
                break
        else:
            return None
    real_root = workspace.real_root_text if workspace is not None else os.path.realpath(root)
    return leads_outside(real_root, full)


def check_boundaries(workspace: Workspace) -> None:
    """Refuse (WorkspaceError, exit 2) a workspace whose own files or folders (handoff.yaml, the
    runbook, templates/, the queue folders, .handoff/) are, or lead through, a symlink out of
    it. A symlink that stays inside the workspace is fine; a missing folder is created later."""
    settings = workspace.settings
    for relative in (settings.runbook, settings.templates, settings.packets, settings.exceptions,
                     ".handoff"):
        where = link_out_of(workspace.root, (relative,), workspace)
        if where is not None:
            path = workspace.root / relative
            raise WorkspaceError(f"broken workspace: leads outside the workspace through a "
                                 f"symlink (to {where}); refusing to use it: make it a file or "
                                 "folder inside the workspace", workspace.relative(path))


def parse_settings(data: Any, text: str, path: Path) -> Settings:
    """Validate handoff.yaml's data and build Settings; errors name the key's line."""
    from .yamlio import line_of

    def fail(message: str, *keypath: str | int) -> ConfigError:
        return ConfigError(message, path, line_of(text, keypath))

    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise fail("handoff.yaml must be a mapping of settings")
    paths = data.get("paths") or {}
    lint = data.get("lint") or {}
    if not isinstance(paths, dict):
        raise fail("'paths' must be a mapping", "paths")
    if not isinstance(lint, dict):
        raise fail("'lint' must be a mapping", "lint")
    values: dict[str, Any] = {}
    for key, attr in (("runbook", "runbook"), ("templates", "templates"),
                      ("packets", "packets"), ("exceptions", "exceptions")):
        if key in paths:
            value = paths[key]
            if not isinstance(value, str) or not value.strip():
                raise fail(f"'paths.{key}' must be a relative path", "paths", key)
            if path_escape_reason(value) is not None:
                raise fail(f"'paths.{key}' must stay inside the workspace", "paths", key)
            values[attr] = value
    fmt = data.get("packetFormat", "md")
    if fmt not in ("md", "json"):
        raise fail("'packetFormat' must be md or json", "packetFormat")
    values["packet_format"] = fmt
    max_bytes = lint.get("maxFileBytes", DEFAULT_MAX_FILE_BYTES)
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 1 \
            or max_bytes > MAX_MAX_FILE_BYTES:
        raise fail(f"'lint.maxFileBytes' must be a whole number from 1 to {MAX_MAX_FILE_BYTES}",
                   "lint", "maxFileBytes")
    values["max_file_bytes"] = max_bytes
    values["rule_severity"] = parse_rule_settings(lint.get("rules") or {}, fail)
    values["lint_ignore"] = parse_lint_ignore(lint.get("ignore") or {}, text, fail)
    allowed = lint.get("fileSuppressions", True)
    if not isinstance(allowed, bool):
        raise fail("'lint.fileSuppressions' must be true or false", "lint", "fileSuppressions")
    values["file_suppressions"] = allowed
    values.update(parse_decision_settings(data.get("decisions"), fail))
    from .hooks import parse_hooks

    values["hooks"], values["hook_timeout"] = parse_hooks(data.get("hooks"),
                                                          data.get("hookTimeout"), fail)
    values.update(parse_git_settings(data.get("git"), fail))
    return Settings(**values)


def parse_lint_ignore(ignore: Any, text: str, fail: Any) -> tuple[IgnoreEntry, ...]:
    """`lint.ignore`: workspace-relative path patterns, each with the rules (ids or names) it
    ignores; every rule must exist."""
    from .lint.registry import RULES_BY_KEY
    from .yamlio import line_of

    if not isinstance(ignore, dict):
        raise fail("'lint.ignore' must map path patterns to lists of rules, e.g. "
                   "{\"packets/legacy/*\": [H202]}", "lint", "ignore")
    entries = []
    for pattern, rules in ignore.items():
        where = ("lint", "ignore", pattern)
        if not isinstance(pattern, str) or not pattern.strip():
            raise fail("'lint.ignore' keys must be path patterns", "lint", "ignore")
        if path_escape_reason(pattern.strip().removeprefix("./") or ".") is not None:
            raise fail(f"lint.ignore pattern '{pattern}' must stay inside the workspace", *where)
        if isinstance(rules, str):
            rules = [rules]
        if not isinstance(rules, list) or not rules:
            raise fail(f"lint.ignore '{pattern}' must list the rules to ignore", *where)
        codes = []
        for index, key in enumerate(rules):
            rule = RULES_BY_KEY.get(str(key))
            if rule is None:
                raise fail(f"unknown lint rule '{key}' in lint.ignore '{pattern}' "
                           "(see 'handoff rules')", *where, index)
            codes.append((rule.code, line_of(text, (*where, index)) or 1))
        entries.append(IgnoreEntry(pattern, tuple(codes)))
    return tuple(entries)


def parse_decision_settings(decisions: Any, fail: Any) -> dict[str, Any]:
    """`decisions: {signatures: off|optional|required, allowedSigners: PATH, revokedKeys: PATH}`."""
    if decisions is None:
        return {}
    if not isinstance(decisions, dict):
        raise fail("'decisions' must be a mapping", "decisions")
    known = ("signatures", "allowedSigners", "revokedKeys")
    for key in decisions:
        if key not in known:
            raise fail(f"unknown setting 'decisions.{key}' (known: {', '.join(known)})",
                       "decisions", key)
    signatures = decisions.get("signatures", "off")
    if signatures is False:  # YAML reads a bare `off` as false
        signatures = "off"
    if signatures not in ("off", "optional", "required"):
        raise fail("'decisions.signatures' must be off, optional or required",
                   "decisions", "signatures")
    values: dict[str, Any] = {"signatures": signatures}
    for key, attr in (("allowedSigners", "allowed_signers"), ("revokedKeys", "revoked_keys")):
        value = decisions.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip() or "\x00" in value:
            raise fail(f"'decisions.{key}' must be a path (relative to the workspace)",
                       "decisions", key)
        values[attr] = value
    if signatures != "off" and "allowed_signers" not in values:
        raise fail(f"'decisions.signatures' is {signatures}, so 'decisions.allowedSigners' "
                   "must name the allowed-signers file", "decisions", "signatures")
    return values


def parse_git_settings(git: Any, fail: Any) -> dict[str, Any]:
    """handoff.yaml's `git:` mapping (push, remote, retries) as Settings fields."""
    if git is None:
        return {}
    if not isinstance(git, dict):
        raise fail("'git' must be a mapping, e.g. git: {push: true}", "git")
    unknown = sorted(str(k) for k in git if k not in ("push", "remote", "retries"))
    if unknown:
        raise fail(f"unknown key 'git.{unknown[0]}' (known: push, remote, retries)",
                   "git", unknown[0])
    values: dict[str, Any] = {}
    push = git.get("push", False)
    if not isinstance(push, bool):
        raise fail("'git.push' must be true or false", "git", "push")
    values["git_push"] = push
    remote = git.get("remote")
    if remote is not None:
        if not isinstance(remote, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]*",
                                                           remote):
            raise fail("'git.remote' must be the name of a git remote, e.g. origin",
                       "git", "remote")
        values["git_remote"] = remote
    retries = git.get("retries", DEFAULT_GIT_RETRIES)
    if not isinstance(retries, int) or isinstance(retries, bool) or not 1 <= retries <= 1000:
        raise fail("'git.retries' must be a whole number from 1 to 1000", "git", "retries")
    values["git_retries"] = retries
    return values


def parse_rule_settings(rules: Any, fail: Any) -> dict[str, str]:
    """Map rule id or name -> severity, checking both exist."""
    from .lint.registry import RULES_BY_KEY

    if not isinstance(rules, dict):
        raise fail("'lint.rules' must map rule ids to error, warning or off", "lint", "rules")
    result: dict[str, str] = {}
    for key, severity in rules.items():
        rule = RULES_BY_KEY.get(str(key))
        if rule is None:
            raise fail(f"unknown lint rule '{key}' (see 'handoff rules')", "lint", "rules", key)
        if severity is False:  # YAML reads a bare `off` as false
            severity = "off"
        if severity not in SEVERITIES:
            raise fail(f"rule '{key}' must be error, warning or off", "lint", "rules", key)
        result[rule.code] = str(severity)
    return result


def path_escape_reason(value: str) -> str | None:
    """Why a workspace-relative path is not acceptable by its text alone, or None."""
    if "\x00" in value:
        return "contains a NUL byte"
    if value.startswith(("/", "\\", "~")) or _DRIVE.match(value):
        return "is absolute"
    depth = 0
    for part in value.replace("\\", "/").split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return "leads outside the workspace"
        elif part not in ("", "."):
            depth += 1
    return None


def resolve_inside(workspace: Workspace, value: str) -> tuple[Path | None, str | None]:
    """Resolve a workspace-relative path; return (path, None) or (None, reason it is refused).

    Symlinks are followed before the containment check, so a link out of the workspace is refused.
    """
    reason = path_escape_reason(value)
    if reason is not None:
        return None, reason
    root = workspace.real_root_text
    try:
        real = os.path.realpath(os.path.join(root, value.replace("\\", "/")))
    except (OSError, ValueError):
        return None, "cannot be resolved"
    if real != root and not real.startswith(root + os.sep):
        return None, "leads outside the workspace through a symlink"
    return Path(real), None


def packet_files(folder: Path) -> list[Path]:
    """Packet files under a folder (recursively), sorted; hidden entries are skipped."""
    return [Path(name) for name in packet_file_names(folder)]


def packet_file_names(folder: Path) -> list[str]:
    """packet_files as strings (in the same order: by path components), for large queues."""
    found: list[str] = []
    folders = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        prefix = dirpath + os.sep
        found += [prefix + name for name in filenames
                  if name.endswith(PACKET_SUFFIXES) and not name.startswith(".")]
        folders += 1
    if folders == 1:  # one prefix: by the text is by the components, and quicker
        found.sort()
    else:
        found.sort(key=lambda name: name.split(os.sep))
    return found


def find_packet_file(workspace: Workspace, run_id: str) -> Path | None:
    """The file of a runId in the review or exception queue, if any."""
    from .packet import RUN_ID

    if not RUN_ID.match(run_id):
        return None
    for folder in (workspace.packets_dir, workspace.exceptions_dir):
        for suffix in PACKET_SUFFIXES:
            candidate = folder / f"{run_id}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def resolve_packet_path(workspace: Workspace, ref: str) -> Path:
    """PACKET as a path or a runId."""
    as_path = Path(ref)
    if as_path.suffix in PACKET_SUFFIXES and as_path.is_file():
        return as_path
    found = find_packet_file(workspace, ref)
    if found is None:
        raise NotFoundError(f"no packet '{ref}' (neither a file nor a runId in "
                            f"{workspace.settings.packets}/ or {workspace.settings.exceptions}/)")
    return found
