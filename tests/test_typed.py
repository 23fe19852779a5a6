"""The package tells type checkers it is typed (PEP 561)."""

from __future__ import annotations

from pathlib import Path

import handoff_cli


def test_ships_py_typed() -> None:
    assert (Path(handoff_cli.__file__).parent / "py.typed").is_file()
