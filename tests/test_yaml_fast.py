"""The direct builder for plain frontmatter and the plain block reader (plainyaml.py) give
exactly what PyYAML's constructor gives: the same data (and shared objects for aliases), or the
same LoadFailure, on the corpus and on generated YAML."""

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
        patch.setattr(packet_module, "plain_reader", lambda: Defer())
        slow = outcome(text)
    return fast, slow


class Defer:
    """A plain reader that leaves everything to PyYAML."""

    def read(self, text: str) -> None:
        return None


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


# The plain reader (plainyaml.py) on its own: it either builds exactly PyYAML's data or defers.

PLAIN = [
    "a: 1\nb: text with spaces  # a comment\nc:\n  d: e\n  f:\n  - x\n  - 'y'' z'\n",
    "options:\n- label: a\n  risk: b\n- label: c\n",
    "options:\n  - label: a\n    risk: b\n  -   label: c\n",
    "a:\n  - - x\n    - y\n  -\n  - z\n",
    "a: \"q\"  # c\nb: ''\nc: \"\"\nd: ~\ne: null\nf: yes\ng: 0x1f\nh: 1_000\ni: 1:30\n",
    "a: .inf\nb: -.5\nc: +1\nd: 0o17\ne: 2026-05-24\nf: 2026-05-24T10:00:00Z\ng: 1e3\n",
    "# top\na: b # c\n\n  # indented comment\nd: e\n",
    "a: b\n  c: d\n", "a: b\n c\n", "a:\n  b\n", "a:\n- b\nc: d\n- e\n", "- a\n- b\n",
    "a: b: c\n", "a: b:\n", "a:: b\n", "a: 'x' y\n", "a: \"x\\ty\"\n", "a: \"x\n", "a: 'x\n",
    "a: 'it''s'\n", "a : b\n", "a:\tb\n", "a: b\r\nc: d\n", "a: b\u2028c\n", "a: \x85\n",
    "\ufeffa: b\n", "  a: b\n", "a: b\n---\n", "a: b\n...\n", "%YAML 1.1\na: b\n",
    "yes: 1\n", "1: a\n", "<<: a\n", "=: a\n", "~: a\n", "a: [b]\n", "a: {b: c}\n", "a: |\n x\n",
    "a: &x b\n", "a: *x\n", "a: !!str b\n", "a: @b\n", "a: `b`\n", "a: -b\n", "a: - b\n",
    "a: ?b\n", "a: b #c: d\n", "a#b: c\n", "a: b#c\n", "a: 1\na: 2\n", "a: b\n    \n",
    "a:\n  b: c\n d: e\n", "a:\n    b: c\n  d: e\n", "- a: b\n  c: d\n", "a:\n  - b: c\n  d: e\n",
    "a: 10000000000000000000000000000000000000000000000000000000000000000000000000000\n",
    "a: " + "9" * 5000 + "\n", "k" * 1100 + ": v\n", "a: b\n" + "  " * 40 + "c: d\n",
    "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 80)),
    "a: x \u00e9\u4e2d\U0001f600\nb: \xa0\n", "a: \u202e\n", "a: \x7f\n", "a: \ud7ff\ue000\n",
]


def plain_outcome(text: str) -> Any:
    from handoff_cli.packet import plain_reader

    return plain_reader().read(text)


@pytest.mark.parametrize("text", PLAIN)
def test_plain_reader_builds_pyyaml_data_or_defers(text: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    built = plain_outcome(text)
    fast, slow = both(text, monkeypatch)
    assert repr(fast) == repr(slow)
    if built is not None:
        assert slow[0] == "data" and repr(built) == repr(slow[1])


def test_plain_reader_reads_the_common_packet() -> None:
    text = ("runId: r-1\nhandoffType: refund\nevidence:\n  orders: a/b.xlsx\noptions:\n"
            "  - label: approve\n    risk: 'precedent: set'\n  - label: deny\n    risk: churn\n"
            "amount: 1200\nurgent: false\nnote: \"see: the log\"  # why\n")
    assert plain_outcome(text) == yaml.load(text, Loader=packet_module.packet_loader())


def test_corpus_frontmatter_is_read_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    for path in CASES:
        text = frontmatter(path)
        if text is None:
            continue
        built = plain_outcome(text)
        if built is not None:
            assert repr(built) == repr(yaml.load(text, Loader=packet_module.packet_loader()))


# Lines from fragments that sit on the subset's edges: indentation, dashes, keys, colons,
# quotes, comments, implicit types, indicators.
INDENTS = st.sampled_from(["", "", "  ", "    ", " ", "   ", "      "])
DASHES = st.sampled_from(["", "", "- ", "-", "-  ", "- - "])
KEYS = st.sampled_from(["a", "b", "label", "risk", "a b", "yes", "1", "~", "<<", "=", "a:b",
                        "'q'", '"q"', "a#b", "-a", "é", "k "])
SEPARATORS = st.sampled_from([": ", ":", ":  ", "", " : ", ": # c "])
VALUES = st.sampled_from(["", "x", "x y", "1", "-1", "1.5", "0x1f", "1:30", "yes", "No", "null",
                          "~", "'s'", "'it''s'", "\"d\"", "\"a\\tb\"", "'open", "\"open", "[a]",
                          "{a: b}", "&a x", "*a", "!!str x", "|", ">-", "x # c", "x#c", "a: b",
                          "x:", "@x", "%x", "2026-05-24", ".inf", "é ü", "x  ", "'x' y", "-",
                          "--- x", "... x", "#c", "?x", ":x", ",x", "x,y", "`x`"])
LINES = st.lists(st.tuples(INDENTS, DASHES, KEYS, SEPARATORS, VALUES), min_size=1, max_size=8)


@settings(max_examples=600, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=LINES)
def test_generated_lines(lines: list[tuple[str, str, str, str, str]],
                         monkeypatch: pytest.MonkeyPatch) -> None:
    text = "".join(f"{i}{d}{k}{s}{v}\n" for i, d, k, s, v in lines)
    built = plain_outcome(text)
    fast, slow = both(text, monkeypatch)
    assert repr(fast) == repr(slow)
    if built is not None:
        assert slow[0] == "data" and repr(built) == repr(slow[1])


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(st.text(printable, min_size=1, max_size=8), values, max_size=6))
def test_generated_block_yaml_is_read_directly_or_deferred(data: dict[str, Any]) -> None:
    text = yaml.safe_dump(data, default_flow_style=False, allow_unicode=True, sort_keys=False)
    built = plain_outcome(text)
    if built is not None:
        assert repr(built) == repr(yaml.load(text, Loader=packet_module.packet_loader()))
