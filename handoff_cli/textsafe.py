"""Make agent-written text safe for a terminal: no escape sequences, no bidi tricks.

One rule everywhere (rich, markdown, text, github, sarif, json, stderr, file names): every
character of Unicode general category Cc, Cf, Zl, Zp, Co, Cn or Cs, and the filler letters that
draw nothing, is shown as a visible escape (`\\x1b`, `\\u202e`, `\\U000f0000`).
"""

from __future__ import annotations

import re
import unicodedata

UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"})
# Letters (category Lo) that render as nothing: a label made of them looks empty or identical.
FILLERS = frozenset("\u115f\u1160\u3164\uffa0")

# Candidates only: printable ASCII never needs a look-up (the common case costs one regex scan).
_CANDIDATES = re.compile(r"[^\x20-\x7e]")
_CANDIDATES_MULTILINE = re.compile(r"[^\x20-\x7e\t\n]")


def is_unsafe(char: str) -> bool:
    """Whether one character must be shown escaped."""
    return char in FILLERS or unicodedata.category(char) in UNSAFE_CATEGORIES


def escape_char(char: str) -> str:
    """A character as a visible escape: \\xNN, \\uNNNN or \\UNNNNNNNN."""
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    return escape_char(char) if is_unsafe(char) else char


def safe_text(text: str, multiline: bool = False) -> str:
    """Replace unsafe characters with visible escapes (keep newlines and tabs if multiline)."""
    pattern = _CANDIDATES_MULTILINE if multiline else _CANDIDATES
    return pattern.sub(_escape, text)


def visible_key(text: str) -> str:
    """What a person can tell apart: unsafe characters removed, case and spacing folded
    (two labels with the same key look the same on screen)."""
    kept = "".join(char for char in text if not is_unsafe(char))
    return " ".join(kept.casefold().split())


_DIGITS = re.compile(r"[0-9]+")


def option_position(text: str) -> int | None:
    """The option position a choice names, or None when it is not a number. One rule for
    `decide --option`, the prompt and lint (H308): a choice that reads as a whole number
    (spacing, invisible characters and compatibility forms like "\uff11" folded) is always a
    position, 1 for the first option, never a label. A position beyond any packet's reach is
    returned as 0 (no option has it)."""
    folded = unicodedata.normalize("NFKC", visible_key(text))
    if not _DIGITS.fullmatch(folded):
        return None
    return int(folded) if len(folded) <= 9 else 0


def _json_escape(match: re.Match[str]) -> str:
    char = match.group(0)
    if not is_unsafe(char):
        return char
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON spells characters beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def safe_json(data: object) -> str:
    """JSON for scripts, readable (UTF-8) yet terminal-safe: json escapes C0 controls itself;
    every other unsafe character (C1, bidi, separators, private use, unassigned, lone
    surrogates, fillers) is written as a \\u escape too, so the output is valid JSON that
    decodes to the same data."""
    import json

    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return _CANDIDATES_MULTILINE.sub(_json_escape, text)
