"""The direct builder for plain frontmatter gives exactly what PyYAML's constructor gives: the
same data (and shared objects for aliases), or the same LoadFailure, on the corpus and on
generated YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import handoff_cli.packet as packet_module
from handoff_cli.packet import LoadFailure, parse_yaml_mapping, split_frontmatter

CORPUS = Path(__file__).parent / "corpus"


def outcome(text: str) -> Any:
    try:
        return ("data", parse_yaml_mapping(text, 1))
    except LoadFailure as failure:
        return ("failure", failure.code, failure.message, failure.line, failure.column)


def both(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    fast = outcome(text)
    with monkeypatch.context() as patch:
        def unusual(loader: Any, node: Any) -> Any:
            raise packet_module._Unusual

        patch.setattr(packet_module, "_plain_document", unusual)
        slow = outcome(text)
    return fast, slow


def frontmatter(path: Path) -> str | None:
    try:
        text = path.read_bytes().decode("utf-8")
        start, end, _, _ = split_frontmatter(text)
    except (UnicodeDecodeError, LoadFailure):
        return None
    return text[start:end]


CASES = [p for p in sorted(CORPUS.iterdir()) if p.suffix == ".md"]
EXTRA = [
    "a: 1\nb: [1, 2.5, true, null, ~, 0x1f, .inf, -.nan]\nc: {d: e}\n",
    "a: &x {b: 1}\nc: *x\n",  # an alias: the same object twice (check_tree refuses it)
    "a: &x [1]\nb: *x\n",
    "<<: {a: 1}\nb: 2\n",  # merge key
    "a: 1\na: 2\n",  # duplicate
    "? [a]\n: 1\n",  # complex key
    "a: !!binary aGVsbG8=\n", "a: !!set {x}\n", "a: !!omap [x: 1]\n", "a: !!str 1\n",
    "a: !!python/object:os.system x\n", "=: 1\n", "a: 2026-05-24\n", "1: a\n1.0: b\n",
    "a: &r [*r]\n", "[1, 2]\n", "just text\n", "", "a: |\n  x\n  y\nb: >-\n  z\n",
    "'': 1\n", "null: 1\n~: 2\n", "True: 1\ntrue: 2\n",
]


@pytest.mark.parametrize("text", [t for t in (frontmatter(p) for p in CASES) if t] + EXTRA)
def test_same_outcome_as_pyyaml(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, slow = both(text, monkeypatch)
    assert repr(fast) == repr(slow)


def test_alias_shares_the_object_like_pyyaml(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, slow = both("a: &x {b: 1}\nc: *x\n", monkeypatch)
    assert repr(fast) == repr(slow) and fast[1] == "H112"


printable = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"),
                          blacklist_characters="\x85")
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                    st.text(printable, max_size=20),
                    st.sampled_from(["yes", "no", "0o17", "1_000", "2026-05-24", "<<", "=",
                                     "~", ".NaN", "!!str x", "&a x", "*a"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(printable, max_size=8), inner,
                                                 max_size=3)), max_leaves=10)


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.text(printable, min_size=1, max_size=8), values, max_size=6),
       flow=st.booleans())
def test_generated_yaml(data: dict[str, Any], flow: bool,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)
    fast, slow = both(text, monkeypatch)
    assert repr(fast) == repr(slow)
