"""The start-up fast path of `handoff lint`: no Typer, rich or jsonschema import for a clean
file, and the same output and exit code as the Typer command for every argument form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, fast_and_typer, import_probe, write_packet

from handoff_cli.entry import FORMATS, parse_lint, run_fast
from handoff_cli.lint import formats

SEED_NAME = "refund-review-2026-05-24-1500"


def test_one_clean_file_imports_nothing_heavy(root: Path) -> None:
    write_packet(root, f"{SEED_NAME}.md", SEED_MD)
    result = import_probe(root, "lint", f"packets/{SEED_NAME}.md")
    assert result == {"code": 0, "heavy": []}


def test_help_still_goes_through_typer(root: Path) -> None:
    assert "typer" in import_probe(root, "lint", "--help")["heavy"]


def test_formats_match_the_registry() -> None:
    assert formats.FORMATS == FORMATS


@pytest.mark.parametrize("argv", [
    ["lint", "--help"], ["lint", "-h"], ["lint", "--format", "xml"], ["lint", "-f"],
    ["lint", "--", "x.md"], ["lint", "-qf", "json"], ["list"], ["-w", ".", "lint"],
    ["lint", "--bogus"], ["lint", ""],
])
def test_unusual_arguments_go_to_typer(argv: list[str]) -> None:
    assert parse_lint(argv) is None


CASES = [
    [], ["--quiet"], ["-q"], ["--exit-zero"], ["--no-cache"], ["--format", "json"],
    ["-f", "github"], ["--format=sarif"], ["packets"], [f"packets/{SEED_NAME}.md"],
    [f"packets/{SEED_NAME}.md", "packets/wrong.md", "--format", "json", "--exit-zero"],
    ["packets/missing.md"], ["/nonexistent/outside.md"],
]


@pytest.mark.parametrize("args", CASES)
def test_fast_path_prints_what_typer_prints(run: Any, root: Path, args: list[str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    write_packet(root, f"{SEED_NAME}.md", SEED_MD)
    write_packet(root, "wrong.md", SEED_MD.replace(SEED_NAME, "wrong").replace(
        "ownerRole: customer-success-lead", "ownerRole: data-owner"))
    assert parse_lint(["lint", *args]) is not None
    fast, typer = fast_and_typer(run, capsys, ["lint", *args])
    assert fast == typer


@pytest.mark.parametrize("args", [["lint"], ["list", "--format", "json"]])
def test_fast_path_error_is_the_same_message(tmp_path: Path, runner: Any, args: list[str],
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """lint's and list's fast paths outside any workspace: Typer's message and exit code."""
    from handoff_cli.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HANDOFF_WORKSPACE", str(tmp_path / "nowhere"))
    typer_result = runner.invoke(app, args)
    code = run_fast(args)
    out, err = capsys.readouterr()
    assert (code, out, err) == (typer_result.exit_code, "", typer_result.stderr)
    assert code == 2 and "handoff: error:" in err
