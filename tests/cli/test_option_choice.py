"""Choosing an option: a number is always a position, anything else a label; one rule for
`decide --option`, the prompt and the API, and lint H308 for a label that is a number (#8)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, write_packet
from hypothesis import given
from hypothesis import strategies as st

from handoff_cli import api
from handoff_cli.decisions import choose_option
from handoff_cli.errors import UsageError
from handoff_cli.packet import load_packet
from handoff_cli.review import OptionRow
from handoff_cli.textsafe import option_position, visible_key
from handoff_cli.workspace import Workspace

RUN = "refund-review-2026-05-24-1500"
MARIA = "maria.lopez@example.com"
# Option 1 is labelled "2" and option 2 is labelled "1": only the rule says which is which.
SWAPPED = SEED_MD.replace("label: approve refund", 'label: "2"').replace(
    "label: offer credit", "label: '1'")


@pytest.fixture
def swapped(root: Path) -> Path:
    return write_packet(root, f"{RUN}.md", SWAPPED)



def chosen(path: Path) -> str:
    return str(load_packet(path).data["decision"]["option"])


def test_lint_flags_a_label_that_is_a_number(run: Any, swapped: Path) -> None:
    findings = json.loads(run("lint", "--format", "json").stdout)
    numeric = [(f["line"], f["message"]) for f in findings if f["rule"] == "H308"]
    assert [line for line, _ in numeric] == [11, 13]
    assert "--option 2' would mean option 2, not this one" in numeric[0][1]
    result = run("decide", RUN, "--option", "1", "--as", MARIA)
    assert result.exit_code == 1 and "lint error" in result.stderr  # not ready until renamed
    assert "decision" not in load_packet(swapped).data


@pytest.mark.parametrize(("choice", "label"), [
    ("1", "2"), (" 2 ", "1"), ("\uff12", "1"), ("\u00b2", "1"), ("3", "escalate to manager"),
    ("ESCALATE  to manager", "escalate to manager"), ("0001", "2"),
])
def test_a_number_is_always_a_position(run: Any, swapped: Path, choice: str,
                                       label: str) -> None:
    result = run("decide", RUN, "--option", choice, "--force", "--as", MARIA)
    assert result.exit_code == 0, result.stderr
    assert chosen(swapped) == label


@pytest.mark.parametrize("choice", ["0", "4", "9" * 5000, "-1 "])
def test_a_number_no_option_has_is_refused(run: Any, swapped: Path, choice: str) -> None:
    result = run("decide", RUN, "--option", choice, "--force", "--as", MARIA)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    if choice != "-1 ":
        assert "a number is an option's position, from 1 to 3" in result.stderr
    else:  # not a number: a label no option has
        assert "'-1 ' is not one of the packet's options" in result.stderr
    assert load_packet(swapped).text == SWAPPED


def test_labels_that_look_the_same_ask_for_the_number(run: Any, root: Path) -> None:
    path = write_packet(root, f"{RUN}.md", SEED_MD.replace(
        "label: offer credit", "label: Approve Refund"))
    result = run("decide", RUN, "--option", "APPROVE REFUND", "--force", "--as", MARIA)
    assert result.exit_code == 2
    assert "'APPROVE REFUND' matches options 1, 2 (lint H307): choose one by its number" \
        in result.stderr
    assert run("decide", RUN, "--option", "Approve Refund", "--force",
               "--as", MARIA).exit_code == 0  # an exact label is one option
    assert chosen(path) == "Approve Refund"


def test_the_prompt_follows_the_same_rule(run: Any, swapped: Path, terminal: None) -> None:
    result = run("decide", RUN, "--force", "--as", MARIA, input="9\n1\n\ny\n")
    assert result.exit_code == 0, result.output
    assert "'9' does not name one of the options. Type a number from 1 to 3" in result.output
    assert f"Record '2' for {RUN} as {MARIA}?" in result.output
    assert chosen(swapped) == "2"  # position 1, whose label is "2"


def test_review_records_the_option_the_reviewer_confirmed(run: Any, swapped: Path,
                                                          terminal: None) -> None:
    """The prompt records the position it showed: the label "1" it confirmed is option 2,
    and passing that label on would have chosen option 1."""
    result = run("review", "--force", "--as", MARIA, input="2\n\ny\n")
    assert result.exit_code == 0, result.output
    assert f"Record '1' for {RUN}" in result.output
    assert chosen(swapped) == "1"
    assert load_packet(swapped).data["history"][-1]["option"] == "1"


def test_the_api_follows_the_same_rule(workspace: Workspace, swapped: Path) -> None:
    done = api.decide(workspace, RUN, "2", None, MARIA, force=True)
    assert done.event["option"] == "1"
    write_packet(workspace.root, f"{RUN}.md", SWAPPED)
    with pytest.raises(UsageError, match="there is no option 7"):
        api.decide(workspace, RUN, "7", None, MARIA, force=True)


OPTIONS = (OptionRow(1, "2", "r"), OptionRow(2, "1", "r"), OptionRow(3, "approve", "r"),
           OptionRow(4, "Approve", "r"))


NUMBERS = st.from_regex("\\s*[0-9\uff10-\uff19\u00b2\u00b3]{1,12}\\s*", fullmatch=True)


@given(st.text(max_size=40) | NUMBERS)
def test_any_choice_is_an_option_or_a_usage_error(choice: str) -> None:
    """Whatever is typed (other digits, surrogates, controls, huge numbers), the answer is an
    option or a clear usage error, never an internal error; a number is always a position."""
    try:
        row = choose_option(OPTIONS, choice)
    except UsageError:
        return
    position = option_position(choice)
    if position is not None:
        assert row.number == position
    else:
        assert row.label == choice or visible_key(row.label) == visible_key(choice)
