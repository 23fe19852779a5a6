"""Shortcuts taken for speed answer exactly what the plain computation answers."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from handoff_cli.runbook import ExceptionTrigger, Runbook

WORDS = st.sampled_from(["file", "read", "failed", "could", "not", "Read", "FAILED", "x.y",
                         "a+b", "(", "[", "\\", "*", "ß", "SS", "İ", "  ", "\t", ""])
PHRASES = st.lists(st.lists(WORDS, max_size=4).map(" ".join), max_size=4).map(tuple)


def reference(triggers: tuple[ExceptionTrigger, ...], text: str) -> ExceptionTrigger | None:
    folded = " ".join(text.casefold().split())
    for trigger in triggers:
        if any(" ".join(p.casefold().split()) in folded for p in trigger.phrases):
            return trigger
    return None


@settings(max_examples=400, deadline=None)
@given(phrases=st.lists(PHRASES, max_size=4), words=st.lists(WORDS, max_size=12))
def test_exception_trigger_is_the_first_matching_trigger(phrases: list[tuple[str, ...]],
                                                         words: list[str]) -> None:
    triggers = tuple(ExceptionTrigger(f"t{i}", "", p) for i, p in enumerate(phrases))
    runbook = Runbook(Path("r.yaml"), {}, {}, triggers)
    text = " ".join(words)
    assert runbook.exception_trigger_for(text) == reference(triggers, text)
