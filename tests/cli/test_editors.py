"""Editors: `handoff schema --for-workspace` and the YAML language server modeline that the
templates (and so the packets `new` writes) carry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import SEED, SEED_MD, write_packet

from handoff_cli.lint.engine import template_placeholders

MODELINE = "# yaml-language-server: $schema=../packet.schema.json"


def workspace_schema(run: Any) -> dict[str, Any]:
    result = run("schema", "--for-workspace")
    assert result.exit_code == 0, result.output
    schema: dict[str, Any] = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def errors(schema: dict[str, Any], packet: dict[str, Any]) -> list[str]:
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(packet)]


def test_enums_from_the_runbook(run: Any, root: Path) -> None:
    schema = workspace_schema(run)
    assert "customer_exception" in schema["properties"]["handoffType"]["enum"]
    assert "support-manager" in schema["properties"]["ownerRole"]["enum"]
    assert errors(schema, SEED) == []


@pytest.mark.parametrize(("change", "expected"), [
    ({"handoffType": "refund"}, "'refund' is not one of"),
    ({"ownerRole": "ceo"}, "'ceo' is not one of"),
    ({"evidence": {"orderFile": "a.xlsx"}}, "'conversationSummary' is a required property"),
    ({"options": [{"label": "refund twice", "risk": "x"}]}, "'refund twice' is not one of"),
])
def test_what_the_workspace_schema_refuses(run: Any, root: Path, change: dict[str, Any],
                                           expected: str) -> None:
    found = errors(workspace_schema(run), {**SEED, **change})
    assert any(expected in message for message in found), found


def test_it_follows_the_runbook(run: Any, root: Path) -> None:
    runbook = root / "runbooks" / "default.yaml"
    runbook.write_text(runbook.read_text().replace("customer_exception:", "refund_exception:", 1))
    types = workspace_schema(run)["properties"]["handoffType"]["enum"]
    assert "refund_exception" in types and "customer_exception" not in types


def test_the_shipped_schema_is_unchanged(run: Any, root: Path) -> None:
    assert "enum" not in json.loads(run("schema").stdout)["properties"]["handoffType"]
    result = run("schema", "--runbook", "--for-workspace")
    assert result.exit_code == 2


def test_templates_and_new_packets_carry_the_modeline(run: Any, root: Path) -> None:
    for template in (root / "templates").glob("*.md"):
        assert template.read_text().split("\n")[1] == MODELINE, template
    result = run("new", "customer_exception", "--set", "runId=modeline-1")
    assert result.exit_code == 0, result.output
    assert (root / "packets" / "modeline-1.md").read_text().split("\n")[1] == MODELINE


def test_the_modeline_is_no_placeholder(run: Any, root: Path, workspace: Any) -> None:
    assert "schema" not in template_placeholders(workspace)
    text = SEED_MD.replace("---\n", f"---\n{MODELINE}\n", 1).replace(
        "The customer asks", "See $schema docs. The customer asks")
    write_packet(root, "refund-review-2026-05-24-1500.md", text)
    result = run("lint")
    assert result.exit_code == 0, result.stdout
