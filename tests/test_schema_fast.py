"""The compiled schema validator (jsonschema-rs) only ever says "valid" where jsonschema does,
so the fast path never changes a finding; without it, lint gives the same answers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import SEED, write_packet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import handoff_cli.schema
from handoff_cli.lint.engine import lint_paths
from handoff_cli.packet import LoadFailure, load_packet
from handoff_cli.schema import fast_is_valid, load_schema, packet_validator

CORPUS = Path(__file__).parent / "corpus"


def reference_valid(data: Any) -> bool:
    return bool(packet_validator().is_valid(data))


def test_the_compiled_validator_is_installed() -> None:
    """It is a dependency; CI must exercise the fast path, not only the fallback."""
    assert handoff_cli.schema._fast_validator("packet") is not None
    assert handoff_cli.schema._fast_validator("runbook") is not None
    assert fast_is_valid("packet", SEED)


def corpus_data() -> list[tuple[str, Any]]:
    loaded = []
    for path in sorted(CORPUS.iterdir()):
        if path.suffix in (".md", ".json"):
            try:
                loaded.append((path.name, load_packet(path).data))
            except LoadFailure:
                continue
    return loaded


@pytest.mark.parametrize(("name", "data"), corpus_data())
def test_agrees_with_jsonschema_on_the_corpus(name: str, data: Any) -> None:
    assert fast_is_valid("packet", data) == reference_valid(data), name


# Values YAML can produce, JSON cannot (bytes, sets, NaN, huge ints) and text near the patterns.
leaves = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True), st.text(max_size=12), st.binary(max_size=4),
    st.sampled_from(["refund-1", "refund-1\n", "../x", "a" * 129, "sha256:" + "0" * 64,
                     "sha256:" + "0" * 64 + "\n", "open", "decided", "maybe", ""]),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["label", "risk", "path", "option",
                                                             "by", "at", "digest", "x"]),
                                            inner, max_size=4)),
    max_leaves=8,
)
keys = st.sampled_from([*sorted(load_schema("packet")["properties"]), "extra"])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(keys, values, max_size=4),
       drop=st.sets(st.sampled_from(sorted(SEED))))
def test_never_valid_where_jsonschema_is_not(changes: dict[str, Any], drop: set[str]) -> None:
    packet = {k: v for k, v in {**SEED, **changes}.items() if k not in drop}
    if fast_is_valid("packet", packet):
        assert reference_valid(packet), packet


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.dictionaries(keys, st.one_of(leaves, st.lists(leaves, max_size=2)),
                               max_size=3))
def test_agrees_on_json_packets(changes: dict[str, Any]) -> None:
    """On JSON-typed data without the one known dialect difference, both answer the same."""
    packet = {**SEED, **changes}
    try:
        json.dumps(packet, allow_nan=False)
    except (TypeError, ValueError):
        return
    text = json.dumps(packet)
    if "\\n" in text:  # Python's `$` matches before a final newline; Rust's does not
        return
    assert fast_is_valid("packet", packet) == reference_valid(packet), packet


def test_runbook_fast_path_agrees(workspace: Any) -> None:
    import yaml

    data = yaml.safe_load(workspace.runbook_path.read_text())
    assert fast_is_valid("runbook", data)
    del data["roles"]
    assert not fast_is_valid("runbook", data)
    assert not jsonschema.Draft202012Validator(load_schema("runbook")).is_valid(data)


def test_findings_identical_without_the_compiled_validator(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for path in CORPUS.iterdir():
        if path.suffix in (".md", ".json"):
            shutil.copy(path, root / "packets" / path.name)
    write_packet(root, "runid-newline.json", json.dumps({**SEED, "runId": "runid-newline\n"}))
    write_packet(root, "bad-options.json", json.dumps({**SEED, "runId": "bad-options",
                                                       "options": "approve", "status": 3}))
    from handoff_cli.workspace import open_workspace

    fast = lint_paths(open_workspace(root), use_cache=False)
    monkeypatch.setattr(handoff_cli.schema, "_fast_validator", lambda name: None)
    reference = lint_paths(open_workspace(root), use_cache=False)
    assert fast == reference
    assert any(f.rule == "H201" for f in reference)
