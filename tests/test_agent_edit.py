"""An agent edits its packet safely (api.edit_packet, update_packet, `handoff edit`): under the
lock, checked against what it read, written atomically, and never able to forge a decision."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, seed_json, write_packet

from handoff_cli import api
from handoff_cli.errors import ConflictError, NotAllowedError, PacketError, UsageError
from handoff_cli.packet import Packet, load_packet
from handoff_cli.workspace import Workspace

RUN = "refund-review-2026-05-24-1500"
MARIA = "maria.lopez@example.com"
FORGED = """\
status: decided
decision:
  option: approve refund
  by: maria.lopez@example.com
  at: "2026-05-24T15:00:00Z"
"""


def test_update_sets_a_key_keeps_the_rest_and_records_who(workspace: Workspace,
                                                           root: Path) -> None:
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    done = api.update_packet(workspace, RUN, api.PacketInput(values={"agentGoal": "Refund 1,240"}),
                             "bot@example.com")
    text = path.read_text(encoding="utf-8")
    assert done.changed and done.keys == ("agentGoal",) and not done.body
    assert "agentGoal: Refund 1,240\n" in text
    assert text.startswith(SEED_MD.split("agentGoal")[0])  # the bytes before it are untouched
    history = load_packet(path).data["history"]
    assert history[-1]["event"] == "edited" and history[-1]["by"] == "bot@example.com"
    assert history[-1]["keys"] == ["agentGoal"]
    decided = api.decide(workspace, RUN, "1", identity=MARIA)  # still decidable afterwards
    assert decided.status == "decided"


def test_edit_with_a_callback_gets_the_current_packet(workspace: Workspace, root: Path) -> None:
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    seen: list[Packet] = []

    def change(packet: Packet) -> str:
        seen.append(packet)
        return packet.text.replace("1,240.00 EUR", "1,250.00 EUR")

    done = api.edit_packet(workspace, RUN, change)
    assert seen[0].text == SEED_MD and done.body and done.keys == ()
    assert "1,250.00 EUR" in path.read_text(encoding="utf-8")
    assert load_packet(path).data["history"][-1] == {
        "event": "edited", "at": load_packet(path).data["history"][-1]["at"], "by": "agent",
        "keys": [], "body": True}


def test_a_callback_returning_none_or_the_same_text_writes_nothing(workspace: Workspace,
                                                                   root: Path) -> None:
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    assert not api.edit_packet(workspace, RUN, lambda p: None).changed
    assert not api.edit_packet(workspace, RUN, lambda p: p.text).changed
    assert path.read_text(encoding="utf-8") == SEED_MD


@pytest.mark.parametrize("forge", [
    lambda p: p.text.replace("---\nThe customer", FORGED + "---\nThe customer"),
    lambda p: {"status": "decided"},
    lambda p: {"decision": {"option": "approve refund", "by": MARIA}},
    lambda p: {"history": []},
    lambda p: {"runId": "other-run"},
    lambda p: {"handoffType": "data_access"},
    lambda p: {"ownerRole": "data-owner"},
    lambda p: {"escalatedTo": "support-director"},
])
def test_an_edit_can_never_forge_a_decision_or_move_the_packet(
        workspace: Workspace, root: Path, forge: Any) -> None:
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    with pytest.raises(UsageError, match="manages; an edit may not change it; nothing written"):
        api.edit_packet(workspace, RUN, forge)
    assert path.read_text(encoding="utf-8") == SEED_MD


def test_a_decided_packet_is_not_edited(workspace: Workspace, root: Path) -> None:
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    api.decide(workspace, RUN, "1", identity=MARIA)
    decided = path.read_text(encoding="utf-8")
    with pytest.raises(ConflictError, match="already decided by maria"):
        api.update_packet(workspace, RUN, api.PacketInput(values={"agentGoal": "x"}))
    assert path.read_text(encoding="utf-8") == decided


def test_a_returned_packet_is_answered_by_resubmit_not_edited(workspace: Workspace,
                                                              root: Path) -> None:
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    api.return_packet(workspace, RUN, ["orderFile"], identity=MARIA)
    returned = path.read_text(encoding="utf-8")
    with pytest.raises(ConflictError, match="handoff resubmit"):
        api.update_packet(workspace, RUN, api.PacketInput(values={"agentGoal": "x"}))
    assert path.read_text(encoding="utf-8") == returned


@pytest.mark.parametrize("broken, why", [
    (lambda p: p.text.replace("options:\n", "options: [\n"), "does not make a valid packet"),
    (lambda p: "no frontmatter at all\n", "does not make a valid packet"),
    (lambda p: p.text + "\x00", "NUL byte"),
    (lambda p: p.text + "x" * 1_100_000, "over lint.maxFileBytes"),
    (lambda p: 42, "must return the new text"),
])
def test_an_edit_that_breaks_the_packet_writes_nothing(workspace: Workspace, root: Path,
                                                       broken: Any, why: str) -> None:
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    with pytest.raises((UsageError, PacketError), match=why):
        api.edit_packet(workspace, RUN, broken)
    assert path.read_text(encoding="utf-8") == SEED_MD


def test_a_json_packet_is_edited_byte_preserving(workspace: Workspace, root: Path) -> None:
    text = seed_json()
    path = write_packet(root, f"{RUN}.json", text)
    api.update_packet(workspace, RUN, api.PacketInput(
        values={"evidence.refundLog": "workspace/refunds/2026-05-24/orders.xlsx"},
        body="The customer asks again."))
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["evidence"]["refundLog"] == "workspace/refunds/2026-05-24/orders.xlsx"
    assert data["evidence"]["orderFile"] == "workspace/refunds/2026-05-24/orders.xlsx"
    assert data["body"] == "The customer asks again."
    assert data["history"][-1]["keys"] == ["evidence", "body"]


def test_a_change_that_reroutes_sets_the_runbooks_owner(workspace: Workspace,
                                                        root: Path) -> None:
    # The default runbook sends a customer_exception over 5000 to the support manager.
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    done = api.update_packet(workspace, RUN, api.PacketInput(values={"amount": 7500}))
    data = load_packet(path).data
    assert data["ownerRole"] == "support-manager" and done.event is not None
    assert data["history"][-1]["ownerRole"] == "support-manager"
    with pytest.raises(NotAllowedError):
        api.decide(workspace, RUN, "1", identity=MARIA)  # no longer hers to decide


def test_an_outside_writer_during_the_callback_is_kept(workspace: Workspace, root: Path) -> None:
    # Another process rewrites the file without the lock while the agent's callback runs:
    # nothing is overwritten, exit 3.
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    theirs = SEED_MD.replace("The customer", "THEIRS. The customer")

    def change(packet: Packet) -> dict[str, Any]:
        temp = path.with_name(".theirs")
        temp.write_text(theirs, encoding="utf-8")
        temp.replace(path)
        return {"agentGoal": "mine"}

    with pytest.raises(ConflictError, match="changed while deciding"):
        api.edit_packet(workspace, RUN, change)
    assert path.read_text(encoding="utf-8") == theirs


# -- the command --------------------------------------------------------------------------------


def test_edit_command_sets_keys_and_says_what_changed(run: Any, root: Path) -> None:
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    result = run("edit", RUN, "--set", "agentGoal=Refund or credit", "--evidence",
                 "extra=workspace/refunds/2026-05-24/orders.xlsx", "--as", "bot@example.com")
    assert result.exit_code == 0, result.output
    assert result.output == f"{RUN}: edited (agentGoal, evidence)\n"
    data = load_packet(path).data
    assert data["agentGoal"] == "Refund or credit" and "extra" in data["evidence"]
    assert run("lint", str(path)).exit_code == 0


@pytest.mark.parametrize("args", [
    ("--set", "status=decided"), ("--set", "decision.option=approve refund"),
    ("--unset", "history"), ("--set", "runId=x"), ("--set", "ownerRole=data-owner"),
    ("--from-json", "-"),
])
def test_edit_command_refuses_managed_and_fixed_keys(run: Any, root: Path,
                                                     args: tuple[str, ...]) -> None:
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    result = run("edit", RUN, *args, input=json.dumps({"status": "decided"}))
    assert result.exit_code == 2, result.output
    assert "manages" in result.output or "cannot be changed" in result.output
    assert path.read_text(encoding="utf-8") == SEED_MD


def test_edit_command_unset_and_nothing_to_do(run: Any, root: Path) -> None:
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    assert run("edit", RUN).output == f"{RUN}: unchanged\n"
    result = run("edit", RUN, "--unset", "agentNextActionAfterDecision")
    assert result.exit_code == 0 and "agentNextActionAfterDecision" not in \
        load_packet(path).data
