"""Tests for handoff_cli.positions: where keys and items sit in YAML frontmatter and JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff_cli.positions import MAX_DEPTH, Span, json_spans, yaml_spans

# ---------------------------------------------------------------- hand-written YAML

PACKET_MD = (
    "---\n"  # line 1
    "# The run that stopped\n"  # 2
    'runId: "refund-review-2026-05-24-1500"   # from the agent\n'  # 3
    "'handoffType': customer_exception\n"  # 4
    "triggerReason: >-\n"  # 5
    "  Refund amount exceeds\n"  # 6
    "  standard policy\n"  # 7
    "\n"  # 8
    "evidence:\n"  # 9
    "  orderFile: workspace/refunds/orders.xlsx\n"  # 10
    "  notes: |\n"  # 11
    "    line one\n"  # 12
    "    line two\n"  # 13
    "\n"  # 14
    "options: [{label: approve refund, risk: precedent}, {label: escalate, risk: slow}]\n"  # 15
    "history:\n"  # 16
    "- event: created\n"  # 17
    "  at: 2026-05-24\n"  # 18
    "-\n"  # 19
    "ownerRole:\n"  # 20
    "# trailing comment\n"  # 21
    "---\n"
    "Body text\n"
)


def frontmatter_spans(text: str) -> dict[tuple[str | int, ...], Span]:
    start = text.index("\n") + 1
    end = text.index("\n---", start) + 1
    return yaml_spans(text[start:end], offset=start, line_offset=text.count("\n", 0, start))


def test_yaml_lines_and_columns_point_at_keys() -> None:
    spans = frontmatter_spans(PACKET_MD)
    where = {path: (span.line, span.column) for path, span in spans.items()}
    assert where == {
        ("runId",): (3, 1),
        ("handoffType",): (4, 1),
        ("triggerReason",): (5, 1),
        ("evidence", "orderFile"): (10, 3),
        ("evidence", "notes"): (11, 3),
        ("evidence",): (9, 1),
        ("options", 0, "label"): (15, 12),
        ("options", 0, "risk"): (15, 35),
        ("options", 0): (15, 11),
        ("options", 1, "label"): (15, 54),
        ("options", 1, "risk"): (15, 71),
        ("options", 1): (15, 53),
        ("options",): (15, 1),
        ("history", 0, "event"): (17, 3),
        ("history", 0, "at"): (18, 3),
        ("history", 0): (17, 3),
        ("history", 1): (19, 2),
        ("history",): (16, 1),
        ("ownerRole",): (20, 1),
    }


def test_yaml_span_text_covers_key_and_value_only() -> None:
    spans = frontmatter_spans(PACKET_MD)

    def text(path: tuple[str | int, ...]) -> tuple[str, str]:
        span = spans[path]
        return PACKET_MD[span.start : span.end], PACKET_MD[span.value_start : span.end]

    assert text(("runId",)) == (
        'runId: "refund-review-2026-05-24-1500"',
        '"refund-review-2026-05-24-1500"',
    )
    assert text(("handoffType",)) == ("'handoffType': customer_exception", "customer_exception")
    assert text(("triggerReason",))[1] == ">-\n  Refund amount exceeds\n  standard policy"
    assert text(("evidence", "notes"))[1] == "|\n    line one\n    line two"
    assert text(("evidence",))[1] == (
        "orderFile: workspace/refunds/orders.xlsx\n  notes: |\n    line one\n    line two"
    )
    assert text(("options", 1)) == ("{label: escalate, risk: slow}",) * 2
    assert text(("options",))[1].endswith("risk: slow}]")
    assert text(("history",))[1] == "- event: created\n  at: 2026-05-24\n-"
    # Empty values sit right after their ':' or '-', not at the next token.
    assert text(("history", 1)) == ("", "")
    assert text(("ownerRole",)) == ("ownerRole:", "")


def test_yaml_crlf_and_bom_offsets_refer_to_the_whole_file() -> None:
    text = "\ufeff---\r\nrunId: r1\r\nevidence:\r\n  orderFile: o.xlsx\r\n---\r\nbody\r\n"
    start = text.index("\n") + 1
    spans = yaml_spans(text[start : text.index("---", start)], offset=start, line_offset=1)
    order = spans[("evidence", "orderFile")]
    assert (order.line, order.column) == (4, 3)
    assert text[order.start : order.end] == "orderFile: o.xlsx"
    assert text[spans[("runId",)].value_start : spans[("runId",)].end] == "r1"


def test_yaml_non_ascii_offsets_are_string_offsets() -> None:
    text = "naïve: ünïcode\nkey: 😀 value\n"
    spans = yaml_spans(text)
    assert text[spans[("key",)].value_start : spans[("key",)].end] == "😀 value"
    assert (spans[("key",)].line, spans[("key",)].column) == (2, 1)


def test_yaml_aliases_are_not_expanded() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 12)]
    text = "\n".join(levels) + "\n"  # expands to 10**12 items if followed
    spans = yaml_spans(text)
    assert len(spans) == 12 + 12 * 10
    alias = spans[("a11", 3)]
    assert text[alias.start : alias.end] == "*a10"


def test_yaml_complex_keys_are_skipped_and_duplicates_keep_the_last() -> None:
    text = "? [a, b]\n: {c: 1}\nk: 1\nk: 2\n"
    spans = yaml_spans(text)
    assert set(spans) == {("k",)}
    assert spans[("k",)].line == 4


def test_yaml_deep_nesting_is_bounded() -> None:
    text = "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "leaf\n"
    spans = yaml_spans(text)
    assert max(len(path) for path in spans) == MAX_DEPTH
    assert spans[("k0",)].end == len(text) - 1


def test_yaml_invalid_text_raises_yaml_error() -> None:
    with pytest.raises(yaml.YAMLError):
        yaml_spans("a: [1, 2\n")


# ---------------------------------------------------------------- hand-written JSON

SEED_JSON = """{
  "handoffType": "customer_exception",
  "runId": "refund-review-2026-05-24-1500",
  "evidence": {
    "orderFile": "workspace/refunds/2026-05-24/orders.xlsx",
    "policyExcerpt": "workspace/refunds/2026-05-24/refund-policy.md"
  },
  "options": [
    {"label": "approve refund", "risk": "sets exception precedent"},
    {"label": "escalate to manager", "risk": "slower response"}
  ],
  "ownerRole": "customer-success-lead"
}
"""


def test_json_lines_and_columns_point_at_keys() -> None:
    spans = json_spans(SEED_JSON)
    where = {path: (span.line, span.column) for path, span in spans.items()}
    assert where == {
        ("handoffType",): (2, 3),
        ("runId",): (3, 3),
        ("evidence", "orderFile"): (5, 5),
        ("evidence", "policyExcerpt"): (6, 5),
        ("evidence",): (4, 3),
        ("options", 0, "label"): (9, 6),
        ("options", 0, "risk"): (9, 33),
        ("options", 0): (9, 5),
        ("options", 1, "label"): (10, 6),
        ("options", 1, "risk"): (10, 38),
        ("options", 1): (10, 5),
        ("options",): (8, 3),
        ("ownerRole",): (12, 3),
    }
    risk = spans[("options", 1, "risk")]
    assert SEED_JSON[risk.start : risk.end] == '"risk": "slower response"'
    assert SEED_JSON[risk.value_start : risk.end] == '"slower response"'


def test_json_escapes_bom_and_odd_spacing() -> None:
    text = '\ufeff{ "a\\"b\\u00e9" :[ 1 ,-2.5e+3,true , null,"x\\\\"] ,"e":{},"f":[]}\r\n'
    spans = json_spans(text)
    items = {('a"bé', i) for i in range(5)}
    assert set(spans) == {('a"bé',), ("e",), ("f",)} | items
    key = spans[('a"bé',)]
    assert (key.line, key.column) == (1, 3)  # the BOM is not a column
    assert text[key.value_start : key.end] == '[ 1 ,-2.5e+3,true , null,"x\\\\"]'
    assert text[spans[('a"bé', 4)].start : spans[('a"bé', 4)].end] == '"x\\\\"'
    assert text[spans[("e",)].value_start : spans[("e",)].end] == "{}"


def test_json_duplicate_keys_keep_the_last_like_json_loads() -> None:
    spans = json_spans('{"a": 1,\n"a": 2}')
    assert spans[("a",)].line == 2


def test_json_deep_nesting_needs_no_recursion() -> None:
    depth = 20_000  # far beyond the recursion limit
    spans = json_spans("[" * depth + "]" * depth)
    assert len(spans) == MAX_DEPTH
    spans = json_spans('{"k":' * depth + "0" + "}" * depth)
    assert max(len(path) for path in spans) == MAX_DEPTH


@pytest.mark.parametrize("bad", ["", "{", '{"a" 1}', "[1,]x", '{"a": tru}', "[1] 2"])
def test_json_invalid_text_raises_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        json_spans(bad)


# ---------------------------------------------------------------- generated documents

# Each value is (lines, may_take_trailing_comment). lines[0] follows "key:".
YAML_VALUES: list[tuple[list[str], bool]] = [
    ([" open"], True),
    ([" hello world:not-a-key"], True),
    ([" 42"], True),
    ([" 2026-05-24"], True),
    ([" null"], True),
    ([""], True),
    ([" 'it''s: #not a comment'"], True),
    ([' "tab\\t, \\u00e9, quote \\" and\\nnewline"'], True),
    ([" >-", "  folded line one", "  folded line two"], True),
    ([" |", "  literal", "   indented", "", "  after blank"], True),
    ([" |+", "  kept", ""], False),
    ([" [a, 'b, c', {label: x, risk: y}]"], True),
    ([" {a: 1,", "  b: [2, 3]}"], False),
    ([" first", "  continued plain"], False),
    (["", "  a: 1", "  # inner comment", "  b:", "    - x", "    - y: 2"], True),
    (["", "- label: a", "  risk: b", "- plain item"], True),
    (["", "  - 1", "  - {k: v}", "  -", "  - [x]"], True),
]
KEY_NAMES = [
    "runId",
    "status",
    "decision",
    "history",
    "evidence",
    "options",
    "ownerRole",
    "note",
    "with space",
    "x-y",
]
FILLERS = ["", "# a comment", "#", "# key: value in a comment"]


@st.composite
def yaml_documents(draw: st.DrawFn) -> list[tuple[str | None, str]]:
    """A frontmatter document as (owner key or None, text with '\\n' line ends) segments."""
    names = draw(st.lists(st.sampled_from(KEY_NAMES), unique=True, max_size=7))
    segments: list[tuple[str | None, str]] = []
    for name in names:
        for filler in draw(st.lists(st.sampled_from(FILLERS), max_size=2)):
            segments.append((None, filler + "\n"))
        quote = draw(st.sampled_from(["", "'", '"']))
        lines, can_trail = draw(st.sampled_from(YAML_VALUES))
        first = f"{quote}{name}{quote}:{lines[0]}"
        if can_trail and draw(st.booleans()):
            first += "  # trailing"
        segments.append((name, "\n".join([first, *lines[1:]]) + "\n"))
    for filler in draw(st.lists(st.sampled_from(FILLERS), max_size=2)):
        segments.append((None, filler + "\n"))
    return segments


def all_paths(data: Any, prefix: tuple[str | int, ...] = ()) -> dict[tuple[str | int, ...], Any]:
    """Every path to a mapping value or list item in loaded data."""
    found: dict[tuple[str | int, ...], Any] = {}
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else []
    )
    for key, value in items:
        found[(*prefix, key)] = value
        found.update(all_paths(value, (*prefix, key)))
    return found


def assert_consistent(text: str, span: Span) -> None:
    """line/column and start describe the same character; the span is ordered."""
    line = text.split("\n")[span.line - 1] + "\n"  # an empty value may sit at the line end
    column = span.column + (1 if span.line == 1 and text.startswith("\ufeff") else 0)
    assert line[column - 1] == (text + "\n")[span.start]
    assert span.start <= span.value_start <= span.end


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(yaml_documents(), st.booleans())
def test_yaml_spans_cover_every_path_and_slice_back_to_the_value(
    segments: list[tuple[str | None, str]], crlf: bool
) -> None:
    eol = "\r\n" if crlf else "\n"
    body = "".join(text for _, text in segments).replace("\n", eol)
    head = f"---{eol}"
    text = head + body + f"---{eol}Body"
    data = yaml.safe_load(body) or {}
    spans = yaml_spans(body, offset=len(head), line_offset=1)
    expected = all_paths(data)
    assert set(spans) == set(expected)
    for path, span in spans.items():
        assert_consistent(text, span)
        if len(path) == 1:
            assert str(path[0]) in text.split("\n")[span.line - 1]
        column = span.value_start - text.rfind("\n", 0, span.value_start) - 1
        source = " " * column + text[span.value_start : span.end]
        loaded = yaml.safe_load(source)
        if source.lstrip().startswith(("|", ">")):
            assert loaded.rstrip("\n") == expected[path].rstrip("\n")
        else:
            assert loaded == expected[path]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(max_size=8), json_values, max_size=6) | json_values,
    st.sampled_from([None, 0, 1, 2, 4, "\t"]),
    st.sampled_from([None, (",", ":"), (", ", ": "), (" , ", " : ")]),
    st.booleans(),
    st.booleans(),
)
def test_json_spans_cover_every_path_and_slice_back_to_the_value(
    data: Any, indent: int | str | None, separators: tuple[str, str] | None, ascii: bool, bom: bool
) -> None:
    text = ("\ufeff" if bom else "") + json.dumps(
        data, indent=indent, separators=separators, ensure_ascii=ascii
    )
    spans = json_spans(text)
    expected = all_paths(data)
    assert set(spans) == set(expected)
    for path, span in spans.items():
        assert_consistent(text, span)
        assert json.loads(text[span.value_start : span.end]) == expected[path]
        if isinstance(path[-1], str):
            key_text = text[span.start : span.value_start].rstrip(" :")
            assert json.loads(key_text) == path[-1]
        else:
            assert span.start == span.value_start
