"""Small things a new user meets: a global option typed after the command, --help summaries,
due times rounded to the nearest unit and shown in local time (UTC in JSON)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import seed_json, write_packet

from handoff_cli.timeutil import iso, now_utc, rounded_duration


@pytest.mark.parametrize(("args", "hint"), [
    (["list", "-w", "/tmp"], "Hint: -w is a global option; put it before the command: "
                             "handoff -w DIR list"),
    (["list", "--workspace=/tmp"], "handoff --workspace DIR list"),
    (["show", "x", "--color", "never"], "handoff --color auto|always|never show"),
])
def test_a_global_option_after_the_command_gets_a_hint(run: Any, args: list[str],
                                                       hint: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert hint in result.output


def test_no_hint_for_an_option_that_is_not_global(run: Any) -> None:
    result = run("list", "--bogus")
    assert result.exit_code == 2 and "Hint" not in result.output


def test_top_level_help_keeps_whole_summaries(run: Any) -> None:
    text = run("--help").stdout
    assert "..." not in text.split("Commands:")[1]
    assert "never overwrites a file." in " ".join(text.split())


@pytest.mark.parametrize(("delta", "shown"), [
    (timedelta(hours=3, minutes=40), "4h"), (timedelta(hours=3, minutes=20), "3h"),
    (timedelta(minutes=59, seconds=40), "1h"), (timedelta(hours=23, minutes=50), "1d"),
    (timedelta(days=1, hours=13), "2d"), (timedelta(seconds=89), "1m"),
    (timedelta(seconds=40), "40s"), (-timedelta(hours=2, minutes=31), "3h"),
])
def test_durations_round_to_the_nearest_unit(delta: timedelta, shown: str) -> None:
    assert rounded_duration(delta) == shown


def test_due_time_in_local_time_and_utc_in_json(run: Any, root: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(time, "tzset"):
        pytest.skip("no tzset on this platform")
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        due = (now_utc() + timedelta(hours=3, minutes=45)).replace(minute=0, second=0)
        write_packet(root, "p.json", seed_json(runId="p", dueBy=iso(due)))
        text = run("show", "p").stdout
        local = due + timedelta(hours=9)
        assert f"{local:%H}:00 JST" in text
        assert json.loads(run("show", "p", "--format", "json").stdout)["dueBy"] == iso(due)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
