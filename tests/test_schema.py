"""The shipped JSON Schemas: valid, printed by `handoff schema`, and true to the seed."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from conftest import SEED

from handoff_cli.cli import app


@pytest.mark.parametrize("flags", [[], ["--runbook"]])
def test_schema_is_valid_draft_2020_12(runner: Any, flags: list[str]) -> None:
    result = runner.invoke(app, ["schema", *flags])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)


def test_seed_validates_with_jsonschema_itself(runner: Any) -> None:
    schema = json.loads(runner.invoke(app, ["schema"]).stdout)
    jsonschema.validate(SEED, schema)


@pytest.mark.parametrize("change", [
    {"runId": None}, {"options": "approve"}, {"evidence": ["a.md"]},
    {"options": [{"risk": "no label"}]}, {"status": "maybe"}, {"runId": "../escape"},
])
def test_schema_rejects_bad_packets(runner: Any, change: dict[str, Any]) -> None:
    schema = json.loads(runner.invoke(app, ["schema"]).stdout)
    packet = {**SEED, **change}
    packet = {k: v for k, v in packet.items() if v is not None}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(packet, schema)


def test_runbook_validates_against_its_schema(workspace: Any) -> None:
    import yaml

    from handoff_cli.schema import load_schema

    data = yaml.safe_load(workspace.runbook_path.read_text())
    jsonschema.validate(data, load_schema("runbook"))


def test_rules_listing(runner: Any) -> None:
    from handoff_cli.lint.registry import RULES

    listing = json.loads(runner.invoke(app, ["rules", "--format", "json"]).stdout)
    assert [r["id"] for r in listing] == [r.code for r in RULES]
    assert len({r.name for r in RULES}) == len(RULES)


def test_every_rule_is_documented_in_the_rules_reference() -> None:
    from pathlib import Path

    from handoff_cli.lint.registry import RULES

    readme = (Path(__file__).parent.parent / "docs" / "lint.md").read_text()
    for rule in RULES:
        assert f"| {rule.code} | {rule.name} |" in readme, rule.code


def test_run_id_rule_is_the_schema_pattern() -> None:
    from handoff_cli.packet import RUN_ID
    from handoff_cli.schema import load_schema

    assert load_schema("packet")["properties"]["runId"]["pattern"] == RUN_ID.pattern
