"""The command line: a thin Typer shell over handoff_cli.api (parse -> call -> render)."""

from __future__ import annotations

from . import agent as _agent  # noqa: F401  (registers commands)
from . import lifecycle as _lifecycle  # noqa: F401
from . import lint as _lint  # noqa: F401
from . import mcp as _mcp  # noqa: F401
from . import packets as _packets  # noqa: F401
from . import queue as _queue  # noqa: F401
from . import review as _review  # noqa: F401
from . import routing as _routing  # noqa: F401
from . import setup as _setup  # noqa: F401
from . import sync as _sync  # noqa: F401
from . import verify as _verify  # noqa: F401
from .app import app


def main() -> None:
    """Console-script entry point (handoff_cli.entry.main: lint's fast path, else the app)."""
    from ..entry import main as entry_main

    entry_main()


__all__ = ["app", "main"]
