"""`handoff show`: the review view in rich, json and markdown; widths, colour and injection."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_MD, seed_json, write_packet

from handoff_cli.packet import content_digest, load_packet

RUN = "refund-review-2026-05-24-1500"
ESCAPES = ("\x1b]0;x\x07", "\x1b[2J", "\x9b31m", "\u202e")
MARKUP = ("[red]x[/red]", "[link=file:///etc/passwd]open me[/link]", "[bold blink]y")
HOSTILE = "".join(ESCAPES) + " " + " ".join(MARKUP)


def force_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make rich render as it would on a colour terminal."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)


def show(run: Any, *args: str) -> Any:
    result = run("show", RUN, *args)
    assert "Traceback" not in result.output
    return result


def test_show_answers_the_four_questions(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD)
    result = show(run)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for expected in ("Status", "open", "Goal", "Prepare refund decision material", "Trigger",
                     "Evidence (3)", "orderFile", "Options", "1.", "approve refund",
                     "risk: sets exception precedent", "3.", "escalate to manager",
                     "Owner", "customer-success-lead", "May decide",
                     "maria.lopez@example.com, sam.okafor@example.com",
                     "After the decision", "draft reply and keep Trust Mode",
                     "Notes", "1,240.00 EUR"):
        assert expected in out, expected
    assert "\x1b" not in out  # not a terminal: plain text
    assert all(line == line.rstrip() for line in out.splitlines())


def test_show_by_path_and_history(run: Any, root: Path) -> None:
    run("new", "customer_exception", "--from-json", "-", "--as", "agent@example.com",
        input=seed_json())
    result = run("show", f"packets/{RUN}.md")
    assert result.exit_code == 0, result.output
    assert "History" in result.stdout and "created" in result.stdout
    assert "agent@example.com" in result.stdout
    assert "due in" in result.stdout


def test_missing_and_outside_evidence_are_marked(run: Any, root: Path) -> None:
    text = SEED_MD.replace("workspace/refunds/2026-05-24/orders.xlsx", "gone/orders.xlsx")
    text = text.replace("workspace/refunds/2026-05-24/refund-policy.md", "../../etc/passwd")
    write_packet(root, f"{RUN}.md", text)
    data = json.loads(show(run, "--format", "json").stdout)
    rows = {row["name"]: row for row in data["evidence"]}
    assert rows["orderFile"]["exists"] is False and rows["orderFile"]["problem"] == "missing"
    assert rows["policyExcerpt"]["problem"] == "leads outside the workspace"
    assert rows["conversationSummary"]["exists"] is True
    assert rows["conversationSummary"]["size"] == len("evidence customer-8241.md\n")
    assert "MISSING" in show(run).stdout
    assert "leads outside the workspace" in show(run).stdout


def test_json_format(run: Any, root: Path) -> None:
    path = write_packet(root, f"{RUN}.md", SEED_MD)
    result = show(run, "--format", "json")
    data = json.loads(result.stdout)
    assert data["runId"] == RUN and data["status"] == "open"
    assert [o["label"] for o in data["options"]] == ["approve refund", "offer credit",
                                                     "escalate to manager"]
    assert data["options"][0] == {"number": 1, "label": "approve refund",
                                  "risk": "sets exception precedent"}
    assert data["mayDecide"] == ["maria.lopez@example.com", "sam.okafor@example.com"]
    assert data["digest"] == content_digest(load_packet(path))


def test_markdown_format(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD)
    out = show(run, "--format", "markdown").stdout
    assert out.startswith(f"## Handoff: {RUN}\n")
    assert "1. **approve refund**: risk: sets exception precedent" in out
    assert "| orderFile | `workspace/refunds/2026-05-24/orders.xlsx` | yes |" in out
    assert "### After the decision" in out and "### Notes" in out


def test_bad_format_and_unknown_packet(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD)
    assert show(run, "--format", "html").exit_code == 2
    result = run("show", "no-such-run")
    assert result.exit_code == 1 and "no packet 'no-such-run'" in result.stderr


def test_unparseable_packet_names_file_and_line(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", "---\nrunId: x\noptions: [unclosed\n---\n")
    result = show(run)
    assert result.exit_code == 1
    assert f"packets/{RUN}.md:" in result.stderr and "H108" in result.stderr


@pytest.mark.parametrize("columns", [40, 60, 100, 160])
def test_wide_and_narrow_terminals(run: Any, root: Path, monkeypatch: pytest.MonkeyPatch,
                                   columns: int) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    write_packet(root, f"{RUN}.md", SEED_MD)
    out = show(run).stdout
    assert max(len(line) for line in out.splitlines()) <= columns
    assert "approve refund" in out and "orderFile" in out
    if columns >= 100:  # the evidence table: one row per file
        assert any("orderFile" in line and "orders.xlsx" in line and "yes" in line
                   for line in out.splitlines())


def test_colour_on_a_terminal_and_no_color(run: Any, root: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD)
    force_terminal(monkeypatch)
    assert "\x1b[" in show(run).stdout
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b" not in show(run).stdout


def hostile_packet() -> str:
    """Escape sequences and rich markup in every agent-written text field."""
    quoted = json.dumps(HOSTILE)
    return f"""\
---
handoffType: customer_exception
runId: {RUN}
agentGoal: {quoted}
triggerReason: {quoted}
evidence:
  {json.dumps("name " + HOSTILE)}: {json.dumps("workspace/" + HOSTILE)}
options:
  - label: {quoted}
    risk: {quoted}
ownerRole: {quoted}
agentNextActionAfterDecision: {quoted}
history:
  - {{event: {quoted}, at: {quoted}, by: {quoted}}}
---
# Body {HOSTILE}

[click here](https://evil.example/x) [local](file:///etc/passwd) and {HOSTILE}

    code {HOSTILE}
"""


@pytest.mark.parametrize("fmt", ["rich", "json", "markdown"])
@pytest.mark.parametrize("colour", [False, True])
def test_agent_text_cannot_inject(run: Any, root: Path, monkeypatch: pytest.MonkeyPatch,
                                  fmt: str, colour: bool) -> None:
    if colour:
        force_terminal(monkeypatch)
    monkeypatch.setenv("COLUMNS", "250")  # so that no field wraps
    write_packet(root, f"{RUN}.md", hostile_packet())
    result = show(run, "--format", fmt)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for sequence in ESCAPES:
        assert sequence not in out
    assert "\x07" not in out and "\x1b]" not in out  # no OSC: titles, hyperlinks
    assert "\x1b[2J" not in out and "\x1b[5m" not in out  # no screen clear, no blink
    if fmt != "json":
        assert "\\x1b]0;x\\x07" in out  # shown, made visible
    if fmt == "rich":
        out = re.sub(r"\x1b\[[0-9;]*m", "", out)  # the view's own styles
        for markup in ("[red]x[/red]", "[link=file:///etc/passwd]open me[/link]"):
            # shown literally: owner, goal, trigger, label, risk, next action, body (3)
            assert out.count(markup) >= 9, markup
        # A Markdown link shows its real target as text, never a hidden terminal hyperlink.
        assert "click here (https://evil.example/x)" in out
    if colour and fmt == "rich":
        assert "\x1b[" in result.stdout  # styled, yet only by the view itself


def test_show_decided_packet_marks_the_choice(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD)
    assert run("decide", RUN, "--option", "offer credit", "--note", "200 EUR credit",
               "--as", "maria.lopez@example.com").exit_code == 0
    out = show(run).stdout
    assert "decided" in out and "✓ chosen" in out and "200 EUR credit" in out
    data = json.loads(show(run, "--format", "json").stdout)
    assert data["decision"]["option"] == "offer credit"
