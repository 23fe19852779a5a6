"""Managed writes respect the size bound every command reads packets within: route, decide,
return, close and edit refuse (nothing written) rather than leave a packet that no command can
open again (a packet just under lint.maxFileBytes grows when handoff records keys in it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, write_packet

from handoff_cli.packet import load_packet

RUN = "refund-review-2026-05-24-1500"
MARIA = "maria.lopez@example.com"
BOUND = 4096


def near_the_bound(root: Path, text: str = SEED_MD, room: int = 30) -> Path:
    """A packet `room` bytes under a 4 KiB lint.maxFileBytes."""
    config = root / "handoff.yaml"
    config.write_text(config.read_text().replace("maxFileBytes: 1048576",
                                                 f"maxFileBytes: {BOUND}"))
    pad = BOUND - len(text.encode("utf-8")) - room
    return write_packet(root, f"{RUN}.md", text.replace("The customer asks",
                                                        "x" * pad + " The customer asks"))


def test_route_notes_a_packet_it_cannot_grow_and_goes_on(run: Any, root: Path) -> None:
    path = near_the_bound(root)
    before = path.read_bytes()
    result = run("route")
    assert result.exit_code == 0, result.output
    assert "not routed" in result.output and "over lint.maxFileBytes (4096)" in result.output
    assert path.read_bytes() == before
    assert run("list").exit_code == 0 and load_packet(path, BOUND).run_id == RUN


@pytest.mark.parametrize("args", [
    ("decide", RUN, "-o", "1", "--as", MARIA, "--yes"),
    ("decide", RUN, "--return", "--missing", "orderFile", "--as", MARIA, "--yes"),
    ("edit", RUN, "--set", "amount=12"),
])
def test_a_write_that_would_pass_the_bound_is_refused(run: Any, root: Path,
                                                      args: tuple[str, ...]) -> None:
    routed = SEED_MD.replace("---\nThe customer", "createdAt: 2026-05-24T15:00:00Z\n"
                             "dueBy: 2026-05-24T19:00:00Z\n---\nThe customer")
    path = near_the_bound(root, routed, room=20)
    before = path.read_bytes()
    result = run(*args)
    assert result.exit_code in (1, 2), result.output
    assert "lint.maxFileBytes" in result.output and "nothing written" in result.output
    assert path.read_bytes() == before
    assert run("status", RUN).exit_code == 0  # still a packet every command can open
