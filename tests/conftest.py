"""Shared fixtures: a real workspace made by `handoff init` in tmp_path, and packet writers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from handoff_cli.api import init_workspace
from handoff_cli.cli import app
from handoff_cli.workspace import Workspace, open_workspace

SEED: dict[str, Any] = {
    "handoffType": "customer_exception",
    "runId": "refund-review-2026-05-24-1500",
    "agentGoal": "Prepare refund decision material for high-value requests",
    "triggerReason": "Refund amount exceeds standard policy and customer has two prior complaints",
    "evidence": {
        "orderFile": "workspace/refunds/2026-05-24/orders.xlsx",
        "conversationSummary": "workspace/refunds/2026-05-24/customer-8241.md",
        "policyExcerpt": "workspace/refunds/2026-05-24/refund-policy.md",
    },
    "options": [
        {"label": "approve refund", "risk": "sets exception precedent"},
        {"label": "offer credit", "risk": "may not satisfy customer"},
        {"label": "escalate to manager", "risk": "slower response"},
    ],
    "ownerRole": "customer-success-lead",
    "agentNextActionAfterDecision": "draft reply and keep Trust Mode on Confirm before sending",
}

SEED_MD = """\
---
handoffType: customer_exception
runId: refund-review-2026-05-24-1500
agentGoal: Prepare refund decision material for high-value requests
triggerReason: Refund amount exceeds standard policy and customer has two prior complaints
evidence:
  orderFile: workspace/refunds/2026-05-24/orders.xlsx
  conversationSummary: workspace/refunds/2026-05-24/customer-8241.md
  policyExcerpt: workspace/refunds/2026-05-24/refund-policy.md
options:
  - label: approve refund
    risk: sets exception precedent
  - label: offer credit
    risk: may not satisfy customer
  - label: escalate to manager
    risk: slower response
ownerRole: customer-success-lead
agentNextActionAfterDecision: draft reply and keep Trust Mode on Confirm before sending
---
The customer asks for a full refund of 1,240.00 EUR.
"""


@pytest.fixture(autouse=True)
def isolated_identity(tmp_path_factory: pytest.TempPathFactory,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the machine's git identity or handoff variables."""
    empty = tmp_path_factory.mktemp("gitconfig") / "config"
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("HANDOFF_USER", "HANDOFF_WORKSPACE", "HANDOFF_DEBUG", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A workspace directory made by `handoff init`, with the seed's three evidence files."""
    directory = tmp_path / "ws"
    init_workspace(directory)
    evidence = directory / "workspace" / "refunds" / "2026-05-24"
    evidence.mkdir(parents=True)
    for name in ("orders.xlsx", "customer-8241.md", "refund-policy.md"):
        (evidence / name).write_text(f"evidence {name}\n", encoding="utf-8")
    return directory


@pytest.fixture
def workspace(root: Path) -> Workspace:
    return open_workspace(root)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def run(runner: CliRunner, root: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Invoke the CLI inside the workspace; returns the click Result."""
    monkeypatch.chdir(root)
    monkeypatch.delenv("HANDOFF_WORKSPACE", raising=False)
    monkeypatch.delenv("HANDOFF_USER", raising=False)

    def invoke(*args: str, input: str | None = None) -> Any:
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend stdin is a terminal, so that decide prompts (CliRunner feeds the answers)."""
    monkeypatch.setattr("handoff_cli.cli.prompting.on_terminal", lambda: True)


def fast_and_typer(run: Any, capsys: pytest.CaptureFixture[str],
                   args: list[str]) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """(exit code, stdout, stderr) of the start-up fast path (handoff_cli.entry) and of the
    Typer command, for one command line: the two must be the same."""
    from handoff_cli.entry import run_fast

    typer_result = run(*args)
    capsys.readouterr()
    code = run_fast(args)
    out, err = capsys.readouterr()
    return (code, out, err), (typer_result.exit_code, typer_result.stdout, typer_result.stderr)


IMPORT_PROBE = """
import json, sys
sys.argv = ["handoff", *sys.argv[1:]]
from handoff_cli.entry import main
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in ("typer", "click", "rich", "jsonschema") if m in sys.modules)
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def import_probe(root: Path, *args: str) -> dict[str, Any]:
    """Run `handoff ARGS...` in a fresh interpreter in `root`: its exit code, and which heavy
    modules (typer, click, rich, jsonschema) it imported."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", IMPORT_PROBE, *args], cwd=root,
                          capture_output=True, text=True, check=False)
    return dict(json.loads(done.stderr.strip().splitlines()[-1]))


def write_packet(root: Path, name: str, text: str | bytes, folder: str = "packets") -> Path:
    """Write a packet file's exact bytes (text is encoded as UTF-8 without newline changes)."""
    path = root / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def seed_json(**changes: Any) -> str:
    data = {**SEED, **changes}
    for key, value in changes.items():
        if value is None:
            del data[key]
    return json.dumps(data, indent=2)


def _hypothesis_profiles() -> None:
    """CI runs property tests derandomized, so a landing never depends on the draw; local runs
    explore new examples (and `HYPOTHESIS_PROFILE=deep` explores many more)."""
    import os

    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, print_blob=True)
    settings.register_profile("deep", max_examples=2000)
    profile = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else None)
    if profile:
        settings.load_profile(profile)


_hypothesis_profiles()
