"""NO_COLOR, FORCE_COLOR and `--color auto|always|never` on every command with a rich view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, write_packet

RUN = "refund-review-2026-05-24-1500"
VIEWS = (("list",), ("show", RUN), ("stats",), ("route", "--dry-run"))


@pytest.fixture
def views(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_packet(root, f"{RUN}.md", SEED_MD)
    monkeypatch.setenv("TERM", "xterm-256color")
    for name in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    return root


def coloured(run: Any, *args: str) -> bool:
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip()
    return "\x1b[" in result.stdout


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v[0])
@pytest.mark.parametrize(("flag", "env", "expected"), [
    (None, {}, False),                                   # not a terminal: plain
    (None, {"FORCE_COLOR": "1"}, True),
    (None, {"NO_COLOR": "1"}, False),
    (None, {"NO_COLOR": "1", "FORCE_COLOR": "1"}, False),  # NO_COLOR wins
    ("auto", {"FORCE_COLOR": "1"}, True),
    ("always", {}, True),
    ("always", {"NO_COLOR": "1"}, True),                 # the flag beats the environment
    ("never", {"FORCE_COLOR": "1"}, False),
])
def test_colour_choice(run: Any, views: Path, monkeypatch: pytest.MonkeyPatch,
                       view: tuple[str, ...], flag: str | None, env: dict[str, str],
                       expected: bool) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = (("--color", flag) if flag else ()) + view
    assert coloured(run, *args) is expected


def test_always_colours_even_a_dumb_terminal(run: Any, views: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    assert coloured(run, "--color", "always", "show", RUN)


def test_one_run_does_not_leak_its_flag_into_the_next(run: Any, views: Path) -> None:
    assert coloured(run, "--color", "always", "list")
    assert not coloured(run, "list")


def test_never_is_plain_text_without_trailing_padding(run: Any, views: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    out = run("--color", "never", "show", RUN).stdout
    assert "\x1b" not in out
    assert all(line == line.rstrip() for line in out.splitlines())


def test_unknown_colour_is_a_usage_error(run: Any, views: Path) -> None:
    result = run("--color", "sometimes", "list")
    assert result.exit_code == 2
    assert "--color must be one of auto, always, never; got 'sometimes'" in result.stderr
