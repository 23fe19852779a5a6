"""The packet's whole life: withdraw, resubmit after a return (or new --replaces), resolve an
exception, and wait's status JSON on timeout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED, SEED_MD, write_packet

from handoff_cli.packet import load_packet

RUN = "refund-review-2026-05-24-1500"
MARIA = "maria.lopez@example.com"
POLICY = "workspace/refunds/2026-05-24/refund-policy.md"


@pytest.fixture
def packet(root: Path) -> Path:
    return write_packet(root, f"{RUN}.md", SEED_MD)


def data(path: Path) -> dict[str, Any]:
    return load_packet(path).data


def returned(run: Any, *missing: str) -> None:
    args = [a for m in missing for a in ("--missing", m)]
    result = run("decide", RUN, "--return", *args, "--note", "need more", "--as", MARIA)
    assert result.exit_code == 0, result.output


# -- withdraw ---------------------------------------------------------------------------------


def test_withdraw_an_open_packet(run: Any, packet: Path) -> None:
    before = packet.read_text()
    result = run("withdraw", RUN, "--reason", "the customer cancelled", "--as", "agent-7")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{RUN}: withdrawn\n"
    after = data(packet)
    assert after["status"] == "withdrawn"
    assert after["history"][-1]["event"] == "withdrawn"
    assert after["history"][-1]["reason"] == "the customer cancelled"
    assert after["history"][-1]["by"] == "agent-7"
    assert packet.read_text().startswith(before.split("\n---\n")[0])  # other bytes kept
    # A waiting agent stops waiting; nobody can decide it any more.
    waited = json.loads(run("wait", RUN, "--timeout", "0").stdout)
    assert waited["status"] == "withdrawn"
    assert run("decide", RUN, "--option", "1", "--as", MARIA).exit_code == 3
    assert run("withdraw", RUN, "--reason", "again").exit_code == 3
    assert run("lint", str(packet)).exit_code == 0


def test_withdraw_needs_a_reason_and_not_a_decided_packet(run: Any, packet: Path) -> None:
    result = run("withdraw", RUN, "--reason", "  ")
    assert result.exit_code == 2 and "--reason" in result.stderr
    assert run("withdraw", RUN).exit_code == 2  # the option is required
    run("decide", RUN, "--option", "1", "--as", MARIA)
    result = run("withdraw", RUN, "--reason", "too late")
    assert result.exit_code == 3 and "already decided" in result.stderr
    assert data(packet)["status"] == "decided"


def test_withdraw_a_returned_packet(run: Any, packet: Path) -> None:
    returned(run, "policyExcerpt")
    assert run("withdraw", RUN, "--reason", "will file a new one").exit_code == 0
    assert data(packet)["status"] == "withdrawn"


# -- resubmit ---------------------------------------------------------------------------------


def test_resubmit_refused_while_the_field_is_still_missing(run: Any, root: Path,
                                                          packet: Path) -> None:
    (root / POLICY).unlink()
    returned(run, "policyExcerpt")
    before = packet.read_bytes()
    result = run("resubmit", RUN)
    assert result.exit_code == 1
    assert "still missing what the reviewer asked for: policyExcerpt" in result.stderr
    assert packet.read_bytes() == before
    # Supplying an evidence file that is not there is still missing.
    result = run("resubmit", RUN, "--evidence", "policyExcerpt=workspace/nope.md")
    assert result.exit_code == 1 and packet.read_bytes() == before


def test_resubmit_puts_it_back_in_the_queue(run: Any, root: Path, packet: Path) -> None:
    returned(run, "policyExcerpt", "customerTier")
    result = run("resubmit", RUN, "--set", "customerTier=gold", "--body", "Now with the tier.",
                 "--as", "agent-7")
    assert result.exit_code == 0, result.output
    assert "resubmitted (supplied: policyExcerpt, customerTier)" in result.stdout
    after = data(packet)
    assert after["status"] == "open" and "decision" not in after
    assert after["customerTier"] == "gold"
    events = [e["event"] for e in after["history"]]
    assert events == ["returned", "resubmitted"]  # the return is kept in history
    assert after["history"][0]["missing"] == ["policyExcerpt", "customerTier"]
    assert after["history"][1]["returnedBy"] == MARIA
    assert after["dueBy"] > after["history"][1]["at"]  # a fresh time to decide
    assert load_packet(packet).body == "Now with the tier.\n"
    status = json.loads(run("status", RUN).stdout)
    assert status["status"] == "open" and status["decision"] is None
    # Back in the reviewer's queue: it can be decided now.
    assert run("decide", RUN, "--option", "offer credit", "--as", MARIA).exit_code == 0
    assert run("lint", str(packet)).exit_code == 0


def test_resubmit_adds_evidence_and_reroutes(run: Any, root: Path, packet: Path) -> None:
    returned(run, "evidence.refundHistory", "amount")
    (root / "workspace" / "history.csv").write_text("a,b\n")
    result = run("resubmit", RUN, "--evidence", "refundHistory=workspace/history.csv",
                 "--set", "amount=9000")
    assert result.exit_code == 0, result.output
    after = data(packet)
    assert after["evidence"]["refundHistory"] == "workspace/history.csv"
    assert after["evidence"]["orderFile"].endswith("orders.xlsx")  # earlier evidence kept
    assert after["ownerRole"] == "support-manager"  # the runbook's amount rule
    assert after["history"][-1]["ownerRole"] == "support-manager"


def test_resubmit_only_after_a_return(run: Any, packet: Path) -> None:
    result = run("resubmit", RUN)
    assert result.exit_code == 3 and "cannot resubmit a packet whose status is 'open'" \
        in result.stderr
    returned(run, "amount")
    assert run("resubmit", RUN, "--set", "status=decided").exit_code == 2
    assert run("resubmit", RUN, "--set", "amount=$amount").exit_code == 1  # a placeholder


def test_resubmit_a_json_packet_from_json(run: Any, root: Path) -> None:
    path = write_packet(root, f"{RUN}.json", json.dumps(SEED, indent=2) + "\n")
    returned(run, "customerTier", "body")
    result = run("resubmit", RUN, "--from-json", "-",
                 input=json.dumps({"customerTier": "gold", "body": "Context."}))
    assert result.exit_code == 0, result.output
    after = data(path)
    assert after["customerTier"] == "gold" and after["body"] == "Context."
    assert after["status"] == "open"
    other = json.dumps({"runId": "someone-else"})
    returned(run, "x")
    assert run("resubmit", RUN, "--from-json", "-", input=other).exit_code == 2


def test_new_replaces_a_returned_packet(run: Any, root: Path, packet: Path) -> None:
    returned(run, "customerTier")
    seed = {**SEED, "runId": "refund-v2"}
    result = run("new", "customer_exception", "--from-json", "-", "--replaces", RUN,
                 input=json.dumps(seed))
    assert result.exit_code == 1 and "still missing" in result.stderr
    assert not (root / "packets" / "refund-v2.md").exists()
    assert data(packet)["status"] == "returned"
    seed["customerTier"] = "gold"
    result = run("new", "customer_exception", "--from-json", "-", "--replaces", RUN,
                 input=json.dumps(seed))
    assert result.exit_code == 0, result.output
    new = data(root / "packets" / "refund-v2.md")
    assert new["replaces"] == RUN and new["status"] == "open"
    assert [e["event"] for e in new["history"]] == ["returned", "replaces", "created"]
    old = data(packet)
    assert old["status"] == "closed" and old["replacedBy"] == "refund-v2"
    assert old["history"][-1]["event"] == "replaced"
    # Only a returned packet can be replaced.
    seed["runId"] = "refund-v3"
    result = run("new", "customer_exception", "--from-json", "-", "--replaces", "refund-v2",
                 input=json.dumps(seed))
    assert result.exit_code == 3 and not (root / "packets" / "refund-v3.md").exists()


# -- resolve ----------------------------------------------------------------------------------


@pytest.fixture
def failure(run: Any, root: Path) -> Path:
    result = run("new", "customer_exception", "--set", "runId=read-fail",
                 "--set", "triggerReason=could not read orders.xlsx")
    assert result.exit_code == 0
    return root / "exceptions" / "read-fail.md"


def test_resolve_an_exception(run: Any, failure: Path) -> None:
    result = run("resolve", "read-fail", "--kind", "retried", "--note", "file unlocked; rerun",
                 "--as", "ops@example.com")
    assert result.exit_code == 0, result.output
    assert result.stdout == "read-fail: resolved (retried)\n"
    after = data(failure)
    assert after["status"] == "resolved"
    assert after["resolution"]["kind"] == "retried"
    assert after["resolution"]["by"] == "ops@example.com"
    assert after["history"][-1]["event"] == "resolved"
    assert run("resolve", "read-fail", "--kind", "fixed", "--note", "x").exit_code == 3
    assert json.loads(run("wait", "read-fail", "--timeout", "0").stdout)["status"] == "resolved"
    listed = json.loads(run("list", "--status", "resolved", "--format", "json").stdout)
    assert listed == []  # the review queue never shows exceptions


def test_resolve_refuses_bad_input(run: Any, failure: Path, packet: Path) -> None:
    result = run("resolve", "read-fail", "--kind", "ignored", "--note", "x")
    assert result.exit_code == 2 and "fixed, retried, abandoned" in result.stderr
    assert run("resolve", "read-fail", "--kind", "fixed", "--note", " ").exit_code == 2
    result = run("resolve", RUN, "--kind", "fixed", "--note", "x")
    assert result.exit_code == 2 and "not in the exception queue" in result.stderr
    result = run("withdraw", "read-fail", "--reason", "x")
    assert result.exit_code == 2 and "handoff resolve" in result.stderr
    assert data(failure)["status"] == "open"


# -- wait -------------------------------------------------------------------------------------


def test_wait_prints_the_status_on_timeout_too(run: Any, packet: Path) -> None:
    result = run("wait", RUN, "--timeout", "0")
    assert result.exit_code == 124
    assert json.loads(result.stdout)["status"] == "open"
    assert "no decision after 0s" in result.stderr


# -- with git as the shared store ---------------------------------------------------------------


@pytest.mark.skipif(__import__("shutil").which("git") is None, reason="needs the real git CLI")
def test_lifecycle_writes_are_pushed(tmp_path: Path) -> None:
    from test_gitsync import MARIA as MARIA_GIT
    from test_gitsync import Team, cli, new_args

    team = Team(tmp_path)  # its handoff.yaml says git: {push: true}
    agent, reviewer = team.clone("agent"), team.clone("reviewer")
    assert cli(*new_args(agent, "r-1")).exit_code == 0
    assert cli(*new_args(agent, "r-2")).exit_code == 0
    assert cli("--workspace", str(reviewer), "decide", "r-1", "--return", "--missing",
               "customerTier", "--as", MARIA_GIT).exit_code == 0
    result = cli("--workspace", str(agent), "resubmit", "r-1", "--set", "customerTier=gold")
    assert result.exit_code == 0, result.output
    assert "status: open" in team.remote_file("packets/r-1.md")
    assert team.remote_log("Handoff-Event: resubmitted")
    assert cli("--workspace", str(agent), "withdraw", "r-2", "--reason", "cancelled"
               ).exit_code == 0
    assert "status: withdrawn" in team.remote_file("packets/r-2.md")
    # new --replaces commits both files: the new packet and the closed returned one.
    assert cli("--workspace", str(reviewer), "decide", "r-1", "--return", "--missing",
               "amount", "--as", MARIA_GIT).exit_code == 0
    result = cli(*new_args(agent, "r-1b"), "--set", "amount=120", "--replaces", "r-1")
    assert result.exit_code == 0, result.output
    assert "replacedBy: r-1b" in team.remote_file("packets/r-1.md")
    assert "replaces: r-1" in team.remote_file("packets/r-1b.md")


def test_resubmit_never_makes_a_packet_larger_than_the_bound(run: Any, root: Path,
                                                            packet: Path) -> None:
    returned(run, "customerTier")
    config = root / "handoff.yaml"
    limit = packet.stat().st_size + 3000
    config.write_text(config.read_text().replace("maxFileBytes: 1048576",
                                                 f"maxFileBytes: {limit}"))
    before = packet.read_bytes()
    result = run("resubmit", RUN, "--set", "customerTier=" + "g" * 2000,
                 "--set", "note=" + "n" * 2000)
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"handoff: error: packets/{RUN}.md: larger than the {limit}-byte "
                             "packet size limit (lint.maxFileBytes); nothing written\n")
    assert packet.read_bytes() == before
