"""The JSON Schemas that ship in the package (packet and runbook) and cached validators.

`handoff schema` prints packet.schema.json; it works unchanged with other JSON Schema tools.
A compiled validator (jsonschema-rs) decides valid/invalid fast; jsonschema is the reference
that explains an invalid instance, so messages never depend on which one is installed.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


@cache
def schema_text(name: str = "packet") -> str:
    """The raw text of a shipped schema."""
    return (HERE / f"{name}.schema.json").read_text(encoding="utf-8")


@cache
def load_schema(name: str = "packet") -> dict[str, Any]:
    """A shipped schema as data."""
    data: dict[str, Any] = json.loads(schema_text(name))
    return data


@cache
def _validator(name: str) -> Any:
    from jsonschema import Draft202012Validator

    # The shipped schemas are checked against the meta-schema by the tests, not on every run.
    return Draft202012Validator(load_schema(name))


def packet_validator() -> Any:
    """A compiled validator for packets."""
    return _validator("packet")


def runbook_validator() -> Any:
    """A compiled validator for runbooks."""
    return _validator("runbook")


@cache
def _fast_validator(name: str) -> Any:
    try:
        import jsonschema_rs
    except ImportError:  # an optional accelerator: jsonschema alone gives the same answers
        return None
    try:
        return jsonschema_rs.validator_for(load_schema(name))
    except Exception:  # a schema it cannot compile is checked by the reference alone
        return None


def fast_is_valid(name: str, instance: Any) -> bool:
    """True only when the compiled validator accepts `instance`; False means "ask jsonschema"
    (invalid, not JSON-typed, or no compiled validator), never "invalid" on its own."""
    validator = _fast_validator(name)
    if validator is None:
        return False
    try:
        return bool(validator.is_valid(instance))
    except Exception:  # bytes, sets, NaN or huge ints from YAML: the reference decides
        return False
