"""`handoff demo`: the first thing a new user runs must work and lint clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from handoff_cli.cli import app


def test_demo_builds_a_clean_workspace(runner: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["demo", "d"])
    assert result.exit_code == 0, result.output
    assert "refund-review-2026-05-24-1500" in result.stdout
    root = tmp_path / "d"
    seed = json.loads((root / "packets" / "refund-review-2026-05-24-1500.json").read_text())
    assert seed["agentGoal"] == "Prepare refund decision material for high-value requests"
    assert seed["evidence"]["orderFile"] == "workspace/refunds/2026-05-24/orders.xlsx"
    for path in seed["evidence"].values():
        assert (root / path).is_file()
    types = {json.loads(json.dumps(p))["handoffType"] for p in _listing(runner, root)}
    assert types == {"customer_exception", "external_sending", "compliance_concern",
                     "data_conflict"}
    exceptions = _listing(runner, root, "--exceptions")
    assert [e["runId"] for e in exceptions] == ["price-sync-2026-05-25-0900"]
    lint = runner.invoke(app, ["-w", str(root), "lint"])
    assert lint.exit_code == 0, lint.stdout


def test_demo_twice_reuses_the_workspace(runner: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["demo", "d"]).exit_code == 0
    before = sorted(p.name for p in (tmp_path / "d" / "packets").iterdir())
    assert runner.invoke(app, ["demo", "d"]).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "d" / "packets").iterdir()) == before


def test_orders_spreadsheet_is_a_real_xlsx(runner: Any, tmp_path: Path) -> None:
    import zipfile

    runner.invoke(app, ["demo", str(tmp_path / "d")])
    with zipfile.ZipFile(tmp_path / "d/workspace/refunds/2026-05-24/orders.xlsx") as archive:
        assert "xl/worksheets/sheet1.xml" in archive.namelist()
        assert b"55120" in archive.read("xl/worksheets/sheet1.xml")


def _listing(runner: Any, root: Path, *flags: str) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["-w", str(root), "list", "--format", "json", *flags])
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout))


def test_next_hint_names_the_handoff_that_ran(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    script = Path(sys.executable).parent / "handoff"
    if not script.is_file():
        pytest.skip("the handoff console script is not installed beside this Python")
    hints = []
    for path in ("/usr/bin:/bin", f"{script.parent}:/usr/bin:/bin"):
        env = {**os.environ, "PATH": path, "COLUMNS": "100"}
        done = subprocess.run([str(script), "demo", str(tmp_path / path.count(":").__str__())],
                              capture_output=True, text=True, env=env, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        hints.append(" ".join(done.stdout.split("Next: ", 1)[1].split()))
    assert hints[0].split(" && ", 1)[1].startswith(f"{script.resolve()} lint")  # not on PATH
    assert hints[1].split(" && ", 1)[1].startswith("handoff lint")  # the one on PATH
