"""What the reviewer needs in the view: keys beyond the standard ones, why the packet went to
its role, the "not ready" mark in show/list/decide, due times, and evidence links."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED, SEED_MD, seed_json, write_packet

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


def test_list_marks_packets_that_are_not_ready(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD)
    write_packet(root, "broken.md", SEED_MD.replace(RUN, "broken").replace(
        "orders.xlsx", "gone.xlsx"))
    write_packet(root, "done.json", seed_json(runId="done", status="decided",
                                              dueBy="2020-01-01T00:00:00Z"))
    rows = {r["runId"]: r for r in json.loads(run("list", "--format", "json").stdout)}
    assert rows["broken"]["lintErrors"] == 1
    assert rows[RUN]["lintErrors"] == 0
    assert rows["done"]["lintErrors"] is None  # counted for open packets only
    text = run("list").stdout
    broken_line = next(line for line in text.splitlines() if "not ready" in line)
    assert "not ready: 1 lint error" in broken_line
    done_line = next(line for line in text.splitlines() if line.startswith("done"))
    assert "due" not in done_line and "ago" not in done_line  # settled: no due time


def fake_opener(tmp_path: Path) -> Path:
    """An opener that records the argument it was given (what xdg-open would open)."""
    script = tmp_path / "opener"
    script.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{tmp_path}/opened"\n')
    script.chmod(0o755)
    return script


def test_open_evidence_with_the_system_opener(run: Any, root: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD)
    monkeypatch.setenv("HANDOFF_OPENER", str(fake_opener(tmp_path)))
    result = run("open", RUN, "orderFile")
    assert result.exit_code == 0, result.output
    opened = (tmp_path / "opened").read_text()
    assert opened == str((root / "workspace/refunds/2026-05-24/orders.xlsx").resolve())
    printed = run("open", RUN, "policyExcerpt", "--print")
    assert printed.stdout.strip().endswith("workspace/refunds/2026-05-24/refund-policy.md")


def test_open_through_xdg_open_on_the_path(run: Any, root: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_opener(tmp_path).rename(bin_dir / "xdg-open")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setattr("sys.platform", "linux")
    assert run("open", RUN, "conversationSummary").exit_code == 0
    assert (tmp_path / "opened").read_text().endswith("customer-8241.md")


@pytest.mark.parametrize(("value", "message"), [
    ("../../etc/passwd", "leads outside the workspace"),
    ("/etc/passwd", "is absolute"),
    ("workspace/nope.md", "does not exist"),
])
def test_open_never_leaves_the_workspace(run: Any, root: Path, tmp_path: Path, value: str,
                                         message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD.replace(
        "workspace/refunds/2026-05-24/orders.xlsx", value))
    monkeypatch.setenv("HANDOFF_OPENER", str(fake_opener(tmp_path)))
    result = run("open", RUN, "orderFile")
    assert result.exit_code == 1 and message in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "opened").exists()


def test_open_refuses_a_symlink_out_and_special_files(run: Any, root: Path,
                                                      tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (root / "workspace" / "link.txt").symlink_to(secret)
    os.mkfifo(root / "workspace" / "fifo")
    write_packet(root, f"{RUN}.md", SEED_MD.replace(
        "workspace/refunds/2026-05-24/orders.xlsx", "workspace/link.txt").replace(
        "workspace/refunds/2026-05-24/customer-8241.md", "workspace/fifo"))
    monkeypatch.setenv("HANDOFF_OPENER", str(fake_opener(tmp_path)))
    result = run("open", RUN, "orderFile")
    assert result.exit_code == 1 and "through a symlink" in result.stderr
    result = run("open", RUN, "conversationSummary")
    assert result.exit_code == 1 and "not a regular file" in result.stderr
    assert not (tmp_path / "opened").exists()


def test_open_names_the_evidence_it_has(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD)
    result = run("open", RUN, "invoice")
    assert result.exit_code == 1
    assert "no evidence named 'invoice'" in result.stderr
    assert "orderFile, conversationSummary, policyExcerpt" in result.stderr


def test_url_evidence_is_a_neutral_link(run: Any, root: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://tickets.example.com/T-8241?view=full"
    write_packet(root, f"{RUN}.md", SEED_MD.replace(
        "workspace/refunds/2026-05-24/refund-policy.md", url))
    rows = {r["name"]: r for r in shown(run, RUN)["evidence"]}
    assert rows["policyExcerpt"]["url"] is True and rows["policyExcerpt"]["problem"] is None
    text = run("show", RUN).stdout
    line = next(line for line in text.splitlines() if "policyExcerpt" in line)
    assert "link" in line and "MISSING" not in line and "NO" not in line
    assert shown(run, RUN)["lintErrors"] == 0
    monkeypatch.setenv("HANDOFF_OPENER", str(fake_opener(tmp_path)))
    assert run("open", RUN, "policyExcerpt").exit_code == 0
    assert (tmp_path / "opened").read_text() == url


def colour_view(root: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The review view as a colour terminal gets it."""
    from handoff_cli.render import make_console, plain_lines, review_view
    from handoff_cli.review import review
    from handoff_cli.workspace import open_workspace

    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    console = make_console()
    console.width = 140
    view = review(open_workspace(root), RUN)
    return plain_lines(console, review_view(view, width=140))


def test_evidence_paths_are_osc8_links_on_a_colour_terminal(root: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    hostile = "https://example.com/x\x1b]8;;https://evil.example\x07"
    evidence = {**SEED["evidence"], "policyExcerpt": hostile}
    write_packet(root, f"{RUN}.json", seed_json(evidence=evidence))
    text = colour_view(root, monkeypatch)
    target = (root / "workspace/refunds/2026-05-24/orders.xlsx").resolve().as_uri()
    assert f";{target}\x1b\\" in text  # OSC 8: ESC ] 8 ; params ; URI ESC \\
    # The agent's URL is percent-encoded inside the link and escaped in the text: no BEL and
    # no second OSC 8 of the agent's making reaches the terminal.
    assert ";https://example.com/x%1B]8;;https://evil.example%07\x1b\\" in text
    assert "\x07" not in text
    assert text.count("\x1b]8;;https://evil") == 0
    assert "\\x1b]8;;https://evil.example\\x07" in text  # shown as visible escapes


def test_no_links_in_plain_output(run: Any, root: Path) -> None:
    write_packet(root, f"{RUN}.md", SEED_MD)
    assert "\x1b" not in run("show", RUN).stdout
