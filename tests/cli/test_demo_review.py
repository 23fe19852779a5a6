"""`handoff demo` ends with the refund packet's review view, after the queues."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from handoff_cli.cli import app


def test_demo_ends_with_the_review_view(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "100")
    result = CliRunner().invoke(app, ["demo", "d"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.stdout
    queue = out.index("Review queue")
    view = out.index("$ handoff show refund-review-2026-05-24-1500")
    assert queue < out.index("Exception queue") < view
    for section in ("Goal and trigger", "Evidence (3)", "Options", "After the decision"):
        assert out.index(section) > view
    assert "approve refund" in out[view:] and "orders.xlsx" in out[view:]
    assert out.rstrip().endswith("--as maria.lopez@example.com")
