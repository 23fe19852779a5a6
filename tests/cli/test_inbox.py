"""`handoff review`, the reviewer's inbox: which packets, in what order, and the prompt driven
through a real pseudo-terminal (pexpect), plus CliRunner tests for the edges."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import seed_json, write_packet

from handoff_cli.api import inbox
from handoff_cli.packet import load_packet
from handoff_cli.timeutil import iso, now_utc
from handoff_cli.workspace import Workspace, open_workspace

pexpect = pytest.importorskip("pexpect")

MARIA = "maria.lopez@example.com"

# runId: (type, owner, status, dueBy in hours from now). The shown due times are rounded to the
# nearest unit, so 1.2h reads "in 1h" and -3.2h "3h ago" however slow the machine is.
PACKETS = {
    "cs-later": ("customer_exception", "customer-success-lead", "open", 30.0),
    "cs-overdue": ("customer_exception", "customer-success-lead", "open", -1.0),
    "cs-soon": ("customer_exception", "customer-success-lead", "open", 1.2),
    "cs-no-due": ("customer_exception", "customer-success-lead", "open", None),
    "cs-very-overdue": ("customer_exception", "customer-success-lead", "open", -3.2),
    "cs-decided": ("customer_exception", "customer-success-lead", "decided", -5.0),
    "send-soon": ("external_sending", "business-owner", "open", 0.5),
}
MINE_IN_ORDER = ["cs-very-overdue", "cs-overdue", "cs-soon", "cs-later", "cs-no-due"]


def write_inbox(root: Path) -> None:
    now = now_utc()

    def at(hours: float) -> str:
        return iso(now + timedelta(hours=hours))

    for run_id, (kind, owner, status, due) in PACKETS.items():
        write_packet(root, f"{run_id}.json", seed_json(
            runId=run_id, handoffType=kind, ownerRole=owner, status=status,
            createdAt=at(-0.5), dueBy=None if due is None else at(due)))


@pytest.fixture
def filled(root: Path) -> Workspace:
    write_inbox(root)
    return open_workspace(root)


def test_inbox_is_mine_most_urgent_first(filled: Workspace) -> None:
    assert [i.run_id for i in inbox(filled, MARIA)] == MINE_IN_ORDER
    assert [i.run_id for i in inbox(filled, "priya.shah@example.com")] == ["send-soon"]
    assert inbox(filled, "nobody@example.com") == []


def test_inbox_filters_like_list(filled: Workspace) -> None:
    assert inbox(filled, MARIA, handoff_type="external_sending") == []
    assert [i.run_id for i in inbox(filled, MARIA, owners=["customer-success-lead"])] == \
        MINE_IN_ORDER
    assert inbox(filled, MARIA, owners=["business-owner"]) == []


def test_review_refuses_unknown_filters_and_no_identity(run: Any, filled: Workspace) -> None:
    result = run("review", "--type", "nope", "--as", MARIA)
    assert result.exit_code == 2 and "unknown handoff type 'nope'" in result.stderr
    result = run("review")
    assert result.exit_code == 2 and "whose inbox?" in result.stderr


def test_review_without_a_terminal_says_what_to_do(run: Any, filled: Workspace) -> None:
    result = run("review", "--as", MARIA)
    assert result.exit_code == 2
    assert "no terminal" in result.stderr and "handoff list --mine" in result.stderr


def test_empty_inbox_is_a_sentence_and_exit_0(run: Any, filled: Workspace) -> None:
    result = run("review", "--as", "nobody@example.com")
    assert result.exit_code == 0
    assert result.stdout == "Nothing to decide: no open packet is waiting for " \
                            "nobody@example.com.\n"


# -- a real terminal -------------------------------------------------------------------------


def spawn(root: Path, *args: str, rows: int = 50, pager: str = "cat", **env: str) -> Any:
    environment = {**os.environ, "NO_COLOR": "1", "PAGER": pager, "TZ": "UTC",
                   "HANDOFF_USER": MARIA, "COLUMNS": "100", **env}
    environment.pop("HANDOFF_WORKSPACE", None)
    child = pexpect.spawn(sys.executable, ["-m", "handoff_cli", *args], cwd=str(root),
                          env=environment, dimensions=(rows, 100), encoding="utf-8",
                          timeout=90)
    return child


def test_review_walks_the_inbox_on_a_terminal(root: Path, filled: Workspace) -> None:
    child = spawn(root, "review")
    child.expect("Packet 1 of 5")
    child.expect("Decide cs-very-overdue · open · OVERDUE due 3h ago")
    child.expect("risk: slower response")
    child.expect(r"Which option do you choose\? Type a number \(1-3\) or a label, r to return "
                 "it to the agent, s to skip it, q to quit:")
    child.sendline("offer credit")
    child.expect("Add a note for the agent")
    child.sendline("200 EUR credit")
    child.expect(r"Record 'offer credit' for cs-very-overdue as maria.lopez@example.com\? "
                 r"\[y/N\]")
    child.sendline("y")
    child.expect("cs-very-overdue: decided 'offer credit' by maria.lopez@example.com")
    child.expect("Packet 2 of 5")
    child.expect("Decide cs-overdue")
    child.expect("Which option")
    child.sendline("s")
    child.expect("Packet 3 of 5")
    child.expect("Decide cs-soon · open · due in 1h")
    child.expect("Which option")
    child.sendline("r")
    child.expect(r"What is missing\? Name the fields, separated by commas:")
    child.sendline("shippingProof")
    child.expect("Add a note")
    child.sendline("")
    child.expect(r"\[y/N\]")
    child.sendline("y")
    child.expect("cs-soon: returned to the agent")
    child.expect("Packet 4 of 5")
    child.expect("Which option")
    child.sendline("q")
    child.expect(r"Decided 1, returned 1, skipped 1; 2 not reached\.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    packets = root / "packets"
    assert load_packet(packets / "cs-very-overdue.json").data["decision"]["note"] == \
        "200 EUR credit"
    assert load_packet(packets / "cs-soon.json").data["decision"]["missing"] == ["shippingProof"]
    assert load_packet(packets / "cs-overdue.json").data["status"] == "open"
    assert [i.run_id for i in inbox(filled, MARIA)] == ["cs-overdue", "cs-later", "cs-no-due"]


def test_a_packet_with_lint_errors_is_not_ready(root: Path, filled: Workspace) -> None:
    # send-soon carries a refund's options and evidence: not what external_sending expects.
    child = spawn(root, "review", "--type", "external_sending",
                  HANDOFF_USER="priya.shah@example.com")
    child.expect("Packet 1 of 1")
    child.expect(r"Ready +not ready: \d+ lint errors \(see 'handoff lint packets/send-soon.json'\)")
    child.expect(r"not ready: \d+ lint errors: return it to the agent, or decide anyway with "
                 "--force")
    child.expect("Which option")
    child.sendline("1")
    child.expect(r"This packet is not ready: \d+ lint errors, so it cannot be decided yet")
    child.expect("Which option")
    child.sendline("r")
    child.expect("What is missing")
    child.sendline("draftEmail")
    child.expect("Add a note")
    child.sendline("")
    child.expect(r"\[y/N\]")
    child.sendline("y")
    child.expect(r"Decided 0, returned 1, skipped 0\.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_review_until_empty_then_summary(root: Path, filled: Workspace) -> None:
    child = spawn(root, "review", "--type", "external_sending", "--force",
                  HANDOFF_USER="priya.shah@example.com")
    child.expect("Packet 1 of 1")
    child.expect("Which option")
    child.sendline("1")
    child.expect("Add a note")
    child.sendline("")
    child.expect(r"\[y/N\]")
    child.sendline("y")
    child.expect(r"Decided 1, returned 0, skipped 0\.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_end_of_input_quits_with_the_summary(root: Path, filled: Workspace) -> None:
    child = spawn(root, "review")
    child.expect("Which option")
    child.sendeof()
    child.expect(r"Decided 0, returned 0, skipped 0; 5 not reached\.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


LONG_BODY = "".join(f"Paragraph {n} of the agent's long narrative.\n\n" for n in range(60))


def test_a_long_packet_keeps_the_question_in_view(root: Path) -> None:
    from conftest import SEED_MD

    write_packet(root, "long.md", SEED_MD.replace("refund-review-2026-05-24-1500", "long")
                 + LONG_BODY + "END OF BODY\n")
    child = spawn(root, "decide", "long", rows=30)  # PAGER=cat: no pager, then the recap
    child.expect("END OF BODY")
    child.expect("Decide long · open")
    child.expect("1.  approve refund +risk: sets exception precedent")
    child.expect("3.  escalate to manager +risk: slower response")
    child.expect("Which option")
    child.sendline("q")
    child.expect("Nothing recorded.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1


def test_a_long_view_goes_to_the_pager(root: Path, tmp_path: Path) -> None:
    from conftest import SEED_MD

    write_packet(root, "long.md", SEED_MD.replace("refund-review-2026-05-24-1500", "long")
                 + LONG_BODY + "END OF BODY\n")
    paged = tmp_path / "paged.txt"
    child = spawn(root, "decide", "long", rows=30, pager=f"cat > '{paged}'")
    child.expect("Decide long · open")
    before = child.before
    child.expect("Which option")
    child.sendline("q")
    child.expect(pexpect.EOF)
    child.close()
    assert "END OF BODY" in paged.read_text()
    assert "Paragraph 3 " not in before  # the view went to the pager, not the terminal


def test_a_short_view_is_not_paged(root: Path, tmp_path: Path) -> None:
    from conftest import SEED_MD

    write_packet(root, "short.md", SEED_MD.replace("refund-review-2026-05-24-1500", "short"))
    paged = tmp_path / "paged.txt"
    child = spawn(root, "decide", "short", rows=60, pager=f"cat > '{paged}'")
    child.expect("Goal and trigger")
    child.expect("Which option")
    child.sendline("q")
    child.expect(pexpect.EOF)
    child.close()
    assert not paged.exists()


def test_a_packet_decided_by_someone_else_meanwhile_is_skipped(root: Path,
                                                               filled: Workspace) -> None:
    from handoff_cli.decisions import decide

    child = spawn(root, "review")
    child.expect("Packet 1 of 5")
    child.expect("Which option")
    decide(filled, "cs-overdue", "1", None, "sam.okafor@example.com", force=True)  # a colleague
    child.sendline("s")
    child.expect("Skipping cs-overdue: .*already decided by sam.okafor@example.com")
    child.expect("Packet 3 of 5")
    child.expect("Which option")
    child.sendline("q")
    child.expect(r"Decided 0, returned 0, skipped 1; 3 not reached\.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
