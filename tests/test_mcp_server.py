"""The MCP server's parts that need no MCP client: tool schemas from the runbook and the lint
settings, refusals as structured errors, creating only what lints clean, the missing extra."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED

from handoff_cli.errors import (
    ConflictError,
    NotAllowedError,
    NotCleanError,
    NotFoundError,
    UsageError,
    WaitTimeout,
)
from handoff_cli.mcp_server import (
    Tools,
    check_arguments,
    error_payload,
    error_text,
    packet_input_schema,
    run_id_from_uri,
    tool_specs,
)
from handoff_cli.workspace import Workspace, open_workspace

RUN = "refund-review-2026-05-24-1500"


def test_create_writes_a_clean_packet(workspace: Workspace) -> None:
    made = Tools(workspace, "agent-7").create_handoff(dict(SEED))
    assert made["path"] == f"packets/{RUN}.md" and made["queue"] == "packets"
    assert made["ownerRole"] == "customer-success-lead" and made["dueBy"]
    assert made["exceptionTrigger"] is None
    assert [p.name for p in workspace.packets_dir.iterdir()] == [f"{RUN}.md"]


def test_create_writes_nothing_that_would_not_lint_clean(workspace: Workspace) -> None:
    with pytest.raises(NotCleanError) as failed:
        Tools(workspace).create_handoff({**SEED, "agentGoal": "TBD",
                                         "options": [{"label": "approve refund"}]})
    assert {f.rule for f in failed.value.findings} == {"H301", "H305"}
    assert error_payload(failed.value)["kind"] == "lint"
    assert list(workspace.packets_dir.iterdir()) == []


def test_an_unplanned_failure_goes_to_the_exception_queue(workspace: Workspace) -> None:
    tools = Tools(workspace)
    failure = {**SEED, "triggerReason": "Could not read orders.xlsx"}
    made = tools.create_handoff(failure)
    assert made["queue"] == "exceptions" and made["exceptionTrigger"] == "file_read_failed"
    assert made["path"] == f"exceptions/{RUN}.md"
    reported = tools.report_exception({"handoffType": "customer_exception", "runId": "r-2",
                                       "agentGoal": "Prepare refund decision material",
                                       "triggerReason": "The order export was empty",
                                       "evidence": SEED["evidence"]})
    assert reported["queue"] == "exceptions" and reported["exceptionTrigger"] is None
    assert "$" not in (workspace.exceptions_dir / "r-2.md").read_text()  # no template
    assert list(workspace.packets_dir.iterdir()) == []


def test_schemas_follow_the_runbook_and_the_lint_settings(root: Path) -> None:
    strict = packet_input_schema(open_workspace(root))
    assert "agentGoal" in strict["required"] and len(strict["allOf"]) == 4
    config = root / "handoff.yaml"
    config.write_text(config.read_text().replace(
        "rules: {}", "rules: {H202: warning, H404: off, H504: off}"))
    light = packet_input_schema(open_workspace(root))
    assert light["required"] == ["handoffType", "triggerReason", "evidence", "options"]
    assert "allOf" not in light
    for key in ("status", "decision", "history", "ownerRole", "outcome"):
        assert key not in light["properties"]
    exception = packet_input_schema(open_workspace(root), exception=True)
    assert exception["required"] == ["handoffType", "triggerReason", "evidence"]
    assert "file_read_failed" in exception["properties"]["triggerReason"]["description"]


def test_every_tool_schema_is_valid_json_schema(workspace: Workspace) -> None:
    from jsonschema import Draft202012Validator

    specs = tool_specs(workspace)
    assert [s["name"] for s in specs] == ["handoff_brief", "create_handoff", "report_exception",
                                          "handoff_status", "wait_for_decision",
                                          "close_handoff", "update_handoff"]
    for spec in specs:
        for key in ("inputSchema", "outputSchema", "checkSchema"):
            Draft202012Validator.check_schema(spec[key])
    # The advertised schema accepts the seed packet as an agent writes it.
    create = next(s for s in specs if s["name"] == "create_handoff")
    Draft202012Validator(create["inputSchema"]).validate(
        {"packet": {k: v for k, v in SEED.items() if k != "ownerRole"}})


def test_arguments_are_checked_with_each_problem_named(workspace: Workspace) -> None:
    spec = next(s for s in tool_specs(workspace) if s["name"] == "wait_for_decision")
    with pytest.raises(UsageError) as refused:
        check_arguments(spec["checkSchema"], {"runId": "../x", "timeout": 601, "extra": 1},
                        "wait_for_decision")
    message = refused.value.message
    assert "runId: '../x' does not match" in message
    assert "timeout: 601 is greater than the maximum of 600" in message
    assert "'extra' was unexpected" in message


@pytest.mark.parametrize(("error", "kind", "code"), [
    (UsageError("bad"), "usage", 2), (NotFoundError("gone"), "failed", 1),
    (ConflictError("taken"), "conflict", 3), (NotAllowedError("no"), "not_allowed", 4),
    (WaitTimeout("late"), "timeout", 124), (NotCleanError("lint", "p.md"), "lint", 1),
])
def test_refusals_keep_the_cli_exit_code_class(error: Any, kind: str, code: int) -> None:
    payload = error_payload(error)
    assert (payload["kind"], payload["exitCode"]) == (kind, code)
    assert error_text(payload).startswith(f"error ({kind}, exit {code}): ")


def test_managed_keys_are_refused(workspace: Workspace) -> None:
    tools = Tools(workspace, "agent-7")
    forged = {**SEED, "status": "decided", "decision": {"option": "approve refund"}}
    with pytest.raises(UsageError, match="'decision', 'status' are keys that handoff manages"):
        tools.create_handoff(forged)
    assert list(workspace.packets_dir.iterdir()) == []


def test_packet_uris() -> None:
    assert run_id_from_uri("handoff://packets/refund-1") == "refund-1"
    for uri in ("handoff://packets/../x", "handoff://packets/", "file:///etc/passwd",
                "handoff://packets/a/b"):
        assert run_id_from_uri(uri) is None


def test_without_the_extra_the_message_names_it(root: Path) -> None:
    code = ("import sys; sys.modules['mcp'] = None; sys.argv = ['handoff', 'mcp']; "
            "from handoff_cli.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "pip install 'handoff-cli[mcp]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_port_goes_with_http(run: Any) -> None:
    result = run("mcp", "--port", "9000")
    assert result.exit_code == 2 and "--port goes with --transport streamable-http" in (
        result.stderr)
    assert run("mcp", "--transport", "sse").exit_code == 2


def test_the_cli_does_not_import_the_server_at_start_up() -> None:
    code = ("import sys, json, handoff_cli.cli; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('mcp', 'mcp_types', 'pydantic', 'starlette') or m == 'handoff_cli.mcp_server')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert json.loads(result.stdout) == []
