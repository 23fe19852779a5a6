"""`handoff new --strict`, `--body`, automatic runIds that never collide, and exception filing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from conftest import SEED
from test_new import COMPLETE

from handoff_cli.api import PacketInput, create_packet
from handoff_cli.packet import load_packet
from handoff_cli.workspace import Workspace


def queue_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for folder in ("packets", "exceptions")
                  for p in (root / folder).rglob("*") if p.is_file())


def test_strict_writes_a_clean_packet(run: Any, root: Path) -> None:
    result = run("new", "customer_exception", *COMPLETE, "--strict")
    assert result.exit_code == 0, result.output
    assert result.stdout == "packets/refund-8241.md\n"
    assert run("lint").exit_code == 0


def test_strict_writes_nothing_and_prints_the_findings(run: Any, root: Path) -> None:
    before = queue_files(root)
    result = run("new", "customer_exception", "--set", "runId=draft-1", "--strict")
    assert result.exit_code == 1
    assert "packets/draft-1.md:7:1: H603 unfilled placeholder '$agentGoal'" in result.stdout
    assert "not created" in result.stderr and "--strict" in result.stderr
    assert queue_files(root) == before
    assert not list((root / ".handoff" / "tmp").glob("*"))  # nothing staged and left behind


def test_strict_findings_as_json(run: Any, root: Path) -> None:
    seed = {**SEED, "runId": "no-risk", "options": [{"label": "approve refund", "risk": ""}]}
    result = run("new", "customer_exception", "--from-json", "-", "--format", "json",
                 "--strict", input=json.dumps(seed))
    assert result.exit_code == 1
    findings = json.loads(result.stdout)
    assert {f["rule"] for f in findings} >= {"H305"}
    assert all(set(f) == {"path", "line", "column", "rule", "severity", "message"}
               for f in findings)
    assert findings[0]["path"] == "packets/no-risk.json"
    assert not (root / "packets" / "no-risk.json").exists()


def test_strict_allows_warnings(run: Any, root: Path) -> None:
    config = root / "handoff.yaml"
    config.write_text(config.read_text().replace("rules: {}", "rules: {H404: warning}"))
    at = COMPLETE.index("policyExcerpt=workspace/refunds/2026-05-24/refund-policy.md")
    args = COMPLETE[:at - 1] + COMPLETE[at + 1:]  # without that --evidence pair
    result = run("new", "customer_exception", *args, "--strict")
    assert result.exit_code == 0, result.output
    assert "H404" in result.stderr and "(warning)" in result.stderr


def test_body_text_replaces_the_template_narrative(run: Any, root: Path) -> None:
    result = run("new", "customer_exception", *COMPLETE, "--body",
                 "The customer asks for 1,240 EUR.\n\nOrder 8241 shipped late.")
    assert result.exit_code == 0, result.output
    packet = load_packet(root / "packets" / "refund-8241.md")
    assert packet.body == "The customer asks for 1,240 EUR.\n\nOrder 8241 shipped late.\n"
    assert "## Customer exception" not in packet.text


def test_body_from_stdin_and_from_json(run: Any, root: Path) -> None:
    result = run("new", "external_sending", "--set", "runId=mail-1", "--body", "-",
                 input="Draft attached.\n")
    assert result.exit_code == 0, result.output
    assert load_packet(root / "packets" / "mail-1.md").body == "Draft attached.\n"
    seed = {**SEED, "runId": "from-json", "body": "Narrative from JSON."}
    assert run("new", "customer_exception", "--from-json", "-",
               input=json.dumps(seed)).exit_code == 0
    packet = load_packet(root / "packets" / "from-json.md")
    assert packet.body == "Narrative from JSON.\n" and "body" not in packet.data
    seed["runId"] = "as-json"
    assert run("new", "customer_exception", "--from-json", "-", "--format", "json",
               input=json.dumps(seed)).exit_code == 0
    assert load_packet(root / "packets" / "as-json.json").data["body"] == "Narrative from JSON."
    shown = json.loads(run("show", "as-json", "--format", "json").stdout)
    assert shown["body"] == "Narrative from JSON."


def test_body_and_json_cannot_both_read_stdin(run: Any) -> None:
    result = run("new", "customer_exception", "--from-json", "-", "--body", "-", input="{}")
    assert result.exit_code == 2 and "stdin" in result.stderr


def test_automatic_run_ids_never_collide(workspace: Workspace, root: Path) -> None:
    now = datetime(2026, 5, 24, 15, 0, tzinfo=timezone.utc)
    made = [create_packet(workspace, "external_sending", PacketInput(), now=now).run_id
            for _ in range(3)]
    assert made == ["external-sending-2026-05-24-150000", "external-sending-2026-05-24-150000-2",
                    "external-sending-2026-05-24-150000-3"]
    # A JSON twin in the exception queue takes the name too.
    (root / "exceptions" / "data-conflict-2026-05-24-150000.json").write_text("{}")
    again = create_packet(workspace, "data_conflict", PacketInput(), now=now)
    assert again.run_id == "data-conflict-2026-05-24-150000-2"


def test_concurrent_agents_get_distinct_run_ids(root: Path) -> None:
    env = {**os.environ, "HANDOFF_WORKSPACE": str(root)}
    command = [sys.executable, "-m", "handoff_cli", "new", "external_sending"]
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
    paths = [out.strip() for out, _ in outputs]
    assert len(set(paths)) == 4
    assert len(list((root / "packets").glob("external-sending-*.md"))) == 4


def test_an_unplanned_failure_goes_to_the_exception_queue(run: Any, root: Path) -> None:
    result = run("new", "customer_exception", "--set", "runId=read-fail",
                 "--set", "triggerReason=File read failed: orders.xlsx is locked")
    assert result.exit_code == 0, result.output
    assert result.stdout == "exceptions/read-fail.md\n"
    assert "unplanned failure (file_read_failed)" in result.stderr
    assert not (root / "packets" / "read-fail.md").exists()
    data = load_packet(root / "exceptions" / "read-fail.md").data
    assert data["history"][0]["trigger"] == "file_read_failed"
    listed = json.loads(run("list", "--format", "json").stdout)
    assert "read-fail" not in {row["runId"] for row in listed}
    # It is a runId like any other: a second packet cannot take it.
    assert run("new", "customer_exception", "--set", "runId=read-fail").exit_code == 3


def test_a_body_that_would_make_the_file_unreadable_is_refused(run: Any, root: Path) -> None:
    seed = {**SEED, "runId": "nul-body", "body": "before\u0000after"}
    result = run("new", "customer_exception", "--from-json", "-", input=json.dumps(seed))
    assert result.exit_code == 2 and "NUL byte" in result.stderr
    assert not (root / "packets" / "nul-body.md").exists()


def test_strict_refuses_a_packet_over_the_size_limit(run: Any, root: Path) -> None:
    config = root / "handoff.yaml"
    config.write_text(config.read_text().replace("maxFileBytes: 1048576", "maxFileBytes: 4096"))
    result = run("new", "customer_exception", *COMPLETE, "--strict", "--body", "x" * 5000)
    assert result.exit_code == 2  # the size bound is a usage error before any lint (#8)
    assert result.stderr == ("handoff: error: --body: larger than the 4096-byte packet size limit "
                             "(lint.maxFileBytes); nothing written\n")
    assert not (root / "packets" / "refund-8241.md").exists()
