"""Lint in a repository with several workspaces: each PATH is checked in its own workspace (the
nearest handoff.yaml above it), against that workspace's runbook and settings.

This is what pre-commit passes from the repository root: files of any workspace, mixed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..workspace import CONFIG_NAME, Workspace, open_workspace
from .engine import Finding, lint_paths

OUTSIDE = "H114"


def workspace_root_of(path: Path, roots: dict[str, Path | None]) -> Path | None:
    """The nearest folder at or above `path` holding handoff.yaml (cached per folder)."""
    start = Path(os.path.abspath(path))
    if not start.is_dir():
        start = start.parent
    walked: list[str] = []
    found: Path | None = None
    for candidate in (start, *start.parents):
        key = str(candidate)
        if key in roots:
            found = roots[key]
            break
        walked.append(key)
        if (candidate / CONFIG_NAME).is_file():
            found = candidate
            break
    for key in walked:
        roots[key] = found
    return found


def lint_by_workspace(paths: Sequence[Path], *, use_cache: bool = True,
                      notes: list[str] | None = None) -> list[Finding]:
    """Lint each PATH in its own workspace; a PATH outside every workspace is linted in the
    current folder's workspace, and outside that too it is one H114 finding.
    Findings of all workspaces come back in one sorted list. A broken handoff.yaml or runbook
    still stops the run (ConfigError): its packets cannot be judged. With `notes`, a workspace
    whose .handoff/ cannot hold the cache is linted without it, and why is added there."""
    from .registry import RULES_BY_CODE

    roots: dict[str, Path | None] = {}
    groups: dict[Path, list[Path]] = {}
    findings: list[Finding] = []
    here = None
    for path in paths:
        root = workspace_root_of(path, roots)
        if root is None:  # a draft outside any workspace is judged by the current one, if any
            here = here or [workspace_root_of(Path.cwd(), roots)]
            root = here[0]
        if root is None:
            findings.append(Finding(str(path), 1, 1, OUTSIDE, RULES_BY_CODE[OUTSIDE].severity,
                                    f"not inside a handoff workspace (no {CONFIG_NAME} in its "
                                    "folder or any parent); it was not checked"))
            continue
        groups.setdefault(root, []).append(path)
    for root, members in groups.items():
        workspace: Workspace = open_workspace(root)
        cached = use_cache
        if cached and notes is not None:  # a .handoff/ that cannot hold the cache: say so
            from ..cache import cache_problem

            problem = cache_problem(workspace.state_dir)
            if problem is not None:
                notes.append(problem)
                cached = False
        findings += lint_paths(workspace, members, use_cache=cached)
    findings.sort()
    return findings

