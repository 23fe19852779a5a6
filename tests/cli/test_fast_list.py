"""The start-up fast path of `handoff list --format json`: no Typer or rich import, and the same
output and exit code as the Typer command for every argument form it takes; every other form
goes to the Typer app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, fast_and_typer, import_probe, seed_json, write_packet

from handoff_cli.entry import parse_list

SEED_NAME = "refund-review-2026-05-24-1500"


def fill(root: Path) -> None:
    write_packet(root, f"{SEED_NAME}.md", SEED_MD)
    write_packet(root, "wrong.md", SEED_MD.replace(SEED_NAME, "wrong").replace(
        "ownerRole: customer-success-lead", "ownerRole: data-owner"))
    write_packet(root, "late.json", seed_json(runId="late", status="decided"))
    write_packet(root, "broken.md", "no frontmatter\x1b[31m\n")
    write_packet(root, "x.md", "---\nrunId: x\n---\n", folder="exceptions")


def test_list_json_imports_nothing_heavy(root: Path) -> None:
    fill(root)
    assert import_probe(root, "list", "--format", "json") == {"code": 0, "heavy": []}


@pytest.mark.parametrize("argv", [
    ["list"], ["list", "--format", "table"], ["list", "--mine", "--format", "json"],
    ["list", "--format", "json", "--as", "a@b"], ["list", "--help", "--format", "json"],
    ["list", "-fjson"], ["list", "-f=json"], ["list", "--format", "json", "--status", "open",
                                               "--status", "closed"],
    ["list", "--format", "json", "--owner"], ["list", "--format", "json", "--owner", ""],
    ["list", "--format", "json", "--owner", "--overdue"], ["list", "--format", "json", "x"],
    ["list", "--format", "json", "--"], ["-w", ".", "list", "--format", "json"],
    ["lint", "--format", "json"],
])
def test_other_forms_go_to_typer(argv: list[str]) -> None:
    assert parse_list(argv) is None


CASES = [
    ["--format", "json"], ["-f", "json"], ["--format=json"], ["--format", "json", "--no-cache"],
    ["--format", "json", "--exceptions"], ["--overdue", "--format", "json"],
    ["--format", "json", "--status", "decided"], ["--format", "json", "--status=bogus"],
    ["--format", "json", "--type", "customer_exception"], ["--format", "json", "--type", "nope"],
    ["--format", "json", "--owner", "data-owner", "--owner", "customer-success-lead"],
    ["--format", "json", "--owner=nobody\x1b[2J"],
]


@pytest.mark.parametrize("args", CASES)
def test_fast_path_prints_what_typer_prints(run: Any, root: Path, args: list[str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    fill(root)
    assert parse_list(["list", *args]) is not None
    fast, typer = fast_and_typer(run, capsys, ["list", *args])
    assert fast == typer


def test_broken_state_folder_warns_like_typer(run: Any, root: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """.handoff/ is a file: both paths warn once that they go on without the cache, and a
    usage error after the warning is reported the same way too."""
    fill(root)
    for index in range(40):
        write_packet(root, f"r-{index}.md", SEED_MD.replace(SEED_NAME, f"r-{index}"))
    import shutil

    shutil.rmtree(root / ".handoff")
    (root / ".handoff").write_text("not a folder\n")
    for args in (["--format", "json"], ["--format", "json", "--status", "bogus"]):
        fast, typer = fast_and_typer(run, capsys, ["list", *args])
        assert fast == typer
        assert "going on without the cache" in fast[2]
