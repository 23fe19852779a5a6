"""`handoff lint --format sarif` validates against the official SARIF 2.1.0 schema."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema
from conftest import SEED_MD, write_packet

DATA = Path(__file__).parent / "data"
CORPUS = Path(__file__).parent / "corpus"
SCHEMA_FILE = DATA / "sarif-schema-2.1.0.json"


def sarif_validator() -> Any:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def test_the_shipped_schema_is_the_official_file() -> None:
    digest = hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest()
    assert digest == "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"


def test_sarif_output_validates(run: Any, root: Path) -> None:
    for case in CORPUS.iterdir():
        if case.suffix in (".md", ".json"):
            shutil.copy(case, root / "packets" / case.name)
    # a warning, a name that needs escaping in a URI, and terminal escapes in a message
    config = root / "handoff.yaml"
    config.write_text(config.read_text().replace("rules: {}", "rules: {H602: warning}"))
    write_packet(root, "odd name #1 é.md", SEED_MD.replace(
        "agentGoal: Prepare refund decision material for high-value requests",
        'agentGoal: "please review \\x1b]0;pwned\\x07"'))
    result = run("lint", "--format", "sarif")
    assert result.exit_code == 1
    log = json.loads(result.stdout)
    errors = sorted(sarif_validator().iter_errors(log), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    results = log["runs"][0]["results"]
    assert {r["level"] for r in results} == {"error", "warning"}
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert "packets/odd%20name%20%231%20%C3%A9.md" in uris
    assert all(" " not in uri and "#" not in uri for uri in uris)
    assert {unquote(u) for u in uris} >= {"packets/odd name #1 é.md", "packets/bad-json.json"}
    assert "\x1b" not in result.stdout
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert all(rules[r["ruleIndex"]]["id"] == r["ruleId"] for r in results)


def test_empty_sarif_log_validates(run: Any, root: Path) -> None:
    write_packet(root, "refund-review-2026-05-24-1500.md", SEED_MD)
    result = run("lint", "--format", "sarif")
    assert result.exit_code == 0, result.stdout
    log = json.loads(result.stdout)
    assert log["runs"][0]["results"] == []
    assert not list(sarif_validator().iter_errors(log))


def test_a_broken_log_is_caught_by_the_schema() -> None:
    """The validation above can fail: a result with an unknown level is refused."""
    log = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "handoff"}},
                                         "results": [{"message": {"text": "x"},
                                                      "level": "fatal"}]}]}
    assert list(sarif_validator().iter_errors(log))
