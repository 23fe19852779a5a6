"""`handoff new`: every input form, routing, refusal of an existing runId."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from conftest import SEED

from handoff_cli.packet import load_packet

EVIDENCE = [
    "--evidence", "orderFile=workspace/refunds/2026-05-24/orders.xlsx",
    "--evidence", "conversationSummary=workspace/refunds/2026-05-24/customer-8241.md",
    "--evidence", "policyExcerpt=workspace/refunds/2026-05-24/refund-policy.md",
]
COMPLETE = [
    "--set", "runId=refund-8241",
    "--set", "agentGoal=Prepare refund decision material for high-value requests",
    "--set", "triggerReason=Refund of 1,240 EUR exceeds the 500 EUR policy limit",
    "--set", "agentNextActionAfterDecision=draft reply and keep Trust Mode on Confirm",
    *EVIDENCE,
    "--option", "approve refund=sets exception precedent",
    "--option", "offer credit=may not satisfy customer",
]


def test_new_from_flags_lints_clean(run: Any, root: Path) -> None:
    result = run("new", "customer_exception", *COMPLETE, "--set", "amount=1240")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "packets/refund-8241.md\n"
    assert result.stderr == ""
    packet = load_packet(root / "packets" / "refund-8241.md")
    data = packet.data
    assert data["ownerRole"] == "customer-success-lead"
    assert data["status"] == "open"
    assert data["amount"] == 1240
    assert data["options"] == [{"label": "approve refund", "risk": "sets exception precedent"},
                               {"label": "offer credit", "risk": "may not satisfy customer"}]
    assert data["dueBy"] > data["createdAt"]
    assert data["history"][0]["event"] == "created"
    assert "# Packet template for customer_exception" in packet.text  # template comments kept
    assert run("lint").exit_code == 0


def test_new_reports_what_is_missing(run: Any, root: Path) -> None:
    result = run("new", "customer_exception", "--set", "runId=draft-1")
    assert result.exit_code == 0
    assert result.stdout == "packets/draft-1.md\n"
    assert "H603 unfilled placeholder '$agentGoal'" in result.stderr
    assert run("lint").exit_code == 1


def test_new_fills_nested_template_placeholders(run: Any, root: Path) -> None:
    result = run("new", "customer_exception", "--set", "runId=r-2",
                 "--set", "approveRefundRisk=sets \"precedent\": yes # not a comment",
                 "--set", "orderFile=workspace/refunds/2026-05-24/orders.xlsx")
    assert result.exit_code == 0
    data = load_packet(root / "packets" / "r-2.md").data
    assert data["options"][0]["risk"] == "sets \"precedent\": yes # not a comment"
    assert data["evidence"]["orderFile"] == "workspace/refunds/2026-05-24/orders.xlsx"
    assert "approveRefundRisk" not in data and "orderFile" not in data


def test_new_from_json_file_and_stdin(run: Any, root: Path, tmp_path: Path) -> None:
    source = tmp_path / "packet.json"
    source.write_text(json.dumps(SEED))
    result = run("new", "customer_exception", "--from-json", str(source))
    assert result.exit_code == 0, result.stderr
    path = root / "packets" / f"{SEED['runId']}.md"
    assert result.stdout.strip() == f"packets/{path.name}"
    stdin_packet = {**SEED, "runId": "from-stdin"}
    result = run("new", "customer_exception", "--from-json", "-", "--format", "json",
                 input=json.dumps(stdin_packet))
    assert result.exit_code == 0, result.stderr
    data = json.loads((root / "packets" / "from-stdin.json").read_text())
    assert data["agentGoal"] == SEED["agentGoal"] and data["status"] == "open"
    assert run("lint").exit_code == 0


def test_new_refuses_an_existing_run_id(run: Any, root: Path) -> None:
    assert run("new", "customer_exception", *COMPLETE).exit_code == 0
    before = (root / "packets" / "refund-8241.md").read_bytes()
    result = run("new", "customer_exception", *COMPLETE, "--set", "agentGoal=something else")
    assert result.exit_code == 3
    assert "refund-8241" in result.stderr and "already exists" in result.stderr
    assert (root / "packets" / "refund-8241.md").read_bytes() == before


def test_new_routes_the_owner_from_the_runbook(run: Any, root: Path) -> None:
    result = run("new", "data_conflict", "--set", "runId=dc-1", "--set", "ownerRole=legal-owner")
    assert result.exit_code == 0
    assert "replaced by the runbook's owner 'data-owner'" in result.stderr
    assert load_packet(root / "packets" / "dc-1.md").data["ownerRole"] == "data-owner"


def test_new_bad_input_is_usage_error(run: Any) -> None:
    result = run("new", "no_such_type")
    assert result.exit_code == 2 and "customer_exception" in result.stderr
    assert run("new", "customer_exception", "--set", "novalue").exit_code == 2
    assert run("new", "customer_exception", "--option", "no risk given").exit_code == 2
    result = run("new", "customer_exception", "--set", "runId=../../etc/x")
    assert result.exit_code == 2 and "runId" in result.stderr
    result = run("new", "customer_exception", "--from-json", "-", input='{"a": 1,\n "b": }')
    assert result.exit_code == 2 and "<stdin>:2:" in result.stderr
    result = run("new", "external_sending", "--from-json", "-", input=json.dumps(SEED))
    assert result.exit_code == 2 and "customer_exception" in result.stderr
    assert "Traceback" not in result.stderr


def test_new_with_injected_yaml_stays_data(run: Any, root: Path) -> None:
    hostile = "x\nownerRole: attacker\n---\nbody"
    result = run("new", "customer_exception", "--set", "runId=inj", "--set", f"agentGoal={hostile}")
    assert result.exit_code == 0
    data = load_packet(root / "packets" / "inj.md").data
    assert data["agentGoal"] == hostile and data["ownerRole"] == "customer-success-lead"


def test_new_generates_a_run_id(run: Any, root: Path) -> None:
    result = run("new", "external_sending")
    assert result.exit_code == 0
    name = result.stdout.strip()
    assert name.startswith("packets/external-sending-") and name.endswith(".md")
    data = yaml.safe_load((root / name).read_text().split("---")[1])
    assert data["ownerRole"] == "business-owner"


def test_warnings_cannot_inject_terminal_escapes(run: Any, root: Path) -> None:
    result = run("new", "data_conflict", "--set", "runId=dc-esc",
                 "--set", "ownerRole=\x1b]0;pwned\x07evil")
    assert result.exit_code == 0
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "\\x1b]0;pwned" in result.stderr
