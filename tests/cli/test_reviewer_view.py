"""What the reviewer needs in the view: keys beyond the standard ones, why the packet went to
its role, the "not ready" mark in show/list/decide, due times, and evidence links."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, seed_json, write_packet

from handoff_cli.packet import load_packet

RUN = "refund-review-2026-05-24-1500"
MARIA = "maria.lopez@example.com"
DANA = "dana.kim@example.com"


def shown(run: Any, *args: str) -> dict[str, Any]:
    result = run("show", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_extra_keys_and_the_rule_that_routed_it(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.json", seed_json(
        amount=7200, customerTier="gold", ownerRole="support-manager",
        shipping={"carrier": "DHL", "days": 3}))
    view = shown(run, RUN)
    assert view["extra"] == {"amount": 7200, "customerTier": "gold",
                             "shipping": {"carrier": "DHL", "days": 3}}
    assert view["routedBecause"] == "rule 1 of customer_exception: amount > 5000"
    text = run("show", RUN).stdout
    assert "More from the agent" in text
    assert "amount        7200" in text
    assert 'shipping      {"carrier": "DHL", "days": 3}' in text
    assert "Why this role  rule 1 of customer_exception: amount > 5000" in text


def test_default_owner_and_a_packet_routed_elsewhere(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD)
    assert shown(run, RUN)["routedBecause"] == "the default owner of customer_exception"
    assert shown(run, RUN)["extra"] == {}
    write_packet(root, f"{RUN}.md", SEED_MD.replace("ownerRole: customer-success-lead",
                                                    "ownerRole: legal-owner"))
    assert shown(run, RUN)["routedBecause"] == (
        "the runbook routes it to customer-success-lead (the default owner of "
        "customer_exception); run 'handoff route' to repair it")


def test_extra_keys_cannot_inject_markup_or_escapes(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.json", seed_json(**{"[red]key": "\x1b]0;pwned\x07[bold]v"}))
    text = run("show", RUN).stdout
    assert "\x1b" not in text and "\x07" not in text
    assert "[red]key" in text and "\\x1b]0;pwned\\x07[bold]v" in text


def test_not_ready_in_show_list_and_decide(run: Any, root: Path) -> None:
    path = write_packet(root, f"{RUN}.md", SEED_MD.replace(
        "orders.xlsx", "gone.xlsx").replace("customer-8241.md", "gone.md"))
    assert shown(run, RUN)["lintErrors"] == 2
    text = run("show", RUN).stdout
    assert "Ready          not ready: 2 lint errors (see 'handoff lint" in text
    result = run("decide", RUN, "--option", "1", "--as", MARIA)
    assert result.exit_code == 1
    assert "not ready: 2 lint errors" in result.stderr and "--force" in result.stderr
    assert path.read_text().startswith("---\nhandoffType")
    assert "status" not in load_packet(path).data
    result = run("decide", RUN, "--option", "1", "--as", MARIA, "--force")
    assert result.exit_code == 0, result.output
    assert load_packet(path).data["status"] == "decided"
    assert "not ready" not in run("show", RUN).stdout  # settled: the mark is for open packets


def test_a_return_is_allowed_for_a_packet_that_is_not_ready(run: Any, root: Path) -> None:
    path = write_packet(root, f"{RUN}.md", SEED_MD.replace("orders.xlsx", "gone.xlsx"))
    result = run("decide", RUN, "--return", "--missing", "orderFile", "--as", MARIA)
    assert result.exit_code == 0, result.output
    assert load_packet(path).data["status"] == "returned"


def test_a_clean_packet_is_ready(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD)
    assert shown(run, RUN)["lintErrors"] == 0
    assert "not ready" not in run("show", RUN).stdout


@pytest.mark.parametrize("status", ["decided", "closed", "withdrawn"])
def test_no_due_time_on_settled_packets(run: Any, root: Path, status: str) -> None:
    write_packet(root, f"{RUN}.json", seed_json(status=status, dueBy="2020-01-01T00:00:00Z"))
    text = run("show", RUN).stdout
    assert "due" not in text.split("File")[0]
