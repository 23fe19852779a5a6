"""The agent's side: `handoff status`, `wait` and `close`, as JSON and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, write_packet

from handoff_cli.packet import load_packet

RUN = "refund-review-2026-05-24-1500"
MARIA = "maria.lopez@example.com"


@pytest.fixture
def packet(root: Path) -> Path:
    return write_packet(root, f"{RUN}.md", SEED_MD)


def as_json(result: Any) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_status_of_an_open_packet(run: Any, packet: Path) -> None:
    data = as_json(run("status", RUN))
    assert data["status"] == "open"
    assert data["decision"] is None and data["option"] is None
    assert data["agentNextActionAfterDecision"] == ("draft reply and keep Trust Mode on Confirm "
                                                    "before sending")


def test_status_after_the_decision(run: Any, packet: Path) -> None:
    run("decide", RUN, "--option", "offer credit", "--note", "200 EUR", "--as", MARIA)
    data = as_json(run("status", RUN))
    assert data["status"] == "decided"
    assert data["option"] == {"label": "offer credit", "risk": "may not satisfy customer"}
    assert data["decision"]["by"] == MARIA and data["decision"]["note"] == "200 EUR"
    assert data["decision"]["digest"].startswith("sha256:")


def test_status_of_an_unknown_run(run: Any, root: Path) -> None:
    result = run("status", "nope")
    assert result.exit_code == 1 and "no packet 'nope'" in result.stderr


def test_wait_timeout_is_exit_124(run: Any, packet: Path) -> None:
    result = run("wait", RUN, "--timeout", "0")
    assert result.exit_code == 124
    assert "no decision after 0s; status is still 'open'" in result.stderr


def test_wait_returns_the_decision(run: Any, packet: Path) -> None:
    run("decide", RUN, "--option", "3", "--as", MARIA)
    data = as_json(run("wait", RUN, "--timeout", "0"))
    assert data["option"]["label"] == "escalate to manager"


def test_wait_returns_a_return(run: Any, packet: Path) -> None:
    run("decide", RUN, "--return", "--missing", "orderFile", "--as", MARIA)
    data = as_json(run("wait", RUN, "--timeout", "0"))
    assert data["status"] == "returned" and data["missing"] == ["orderFile"]


def test_wait_negative_timeout_is_a_usage_error(run: Any, packet: Path) -> None:
    assert run("wait", RUN, "--timeout", "-1").exit_code == 2


def test_a_waiting_agent_wakes_up_when_the_owner_decides(run: Any, root: Path,
                                                         packet: Path) -> None:
    env = {**os.environ, "HANDOFF_WORKSPACE": str(root)}
    waiter = subprocess.Popen([sys.executable, "-m", "handoff_cli", "wait", RUN, "--timeout",
                               "30"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert run("decide", RUN, "--option", "1", "--as", MARIA).exit_code == 0
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert json.loads(out)["option"]["label"] == "approve refund"


def test_close_records_the_outcome(run: Any, packet: Path) -> None:
    result = run("close", RUN, "--outcome", "too early")
    assert result.exit_code == 3 and "status is 'open'" in result.stderr
    run("decide", RUN, "--option", "1", "--as", MARIA)
    result = run("close", RUN, "--outcome", "refund sent, reply drafted", "--as", "agent@x.io")
    assert result.exit_code == 0, result.output
    data = load_packet(packet).data
    assert data["status"] == "closed" and data["outcome"] == "refund sent, reply drafted"
    assert data["history"][-1] == {"event": "closed", "at": data["history"][-1]["at"],
                                   "by": "agent@x.io", "outcome": "refund sent, reply drafted"}
    assert as_json(run("status", RUN))["outcome"] == "refund sent, reply drafted"
    assert run("lint", f"packets/{RUN}.md").exit_code == 0
    assert run("close", RUN, "--outcome", "twice").exit_code == 3


def test_close_after_a_return(run: Any, packet: Path) -> None:
    run("decide", RUN, "--return", "--missing", "orderFile", "--as", MARIA)
    assert run("close", RUN, "--outcome", "will send a new packet").exit_code == 0
    assert load_packet(packet).data["status"] == "closed"


def test_close_needs_an_outcome(run: Any, packet: Path) -> None:
    run("decide", RUN, "--option", "1", "--as", MARIA)
    assert run("close", RUN).exit_code == 2
    assert run("close", RUN, "--outcome", "  ").exit_code == 2


def test_the_python_api_is_importable_from_api() -> None:
    from handoff_cli import api

    for name in ("review", "decide", "return_packet", "close", "status", "wait"):
        assert callable(getattr(api, name))
