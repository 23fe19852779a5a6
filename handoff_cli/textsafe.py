"""Make agent-written text safe for a terminal: no escape sequences, no bidi tricks."""

from __future__ import annotations

import re

# C0 and C1 controls (tab and newline kept by `multiline`), DEL, and bidi/invisible formatting.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_UNSAFE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: str, multiline: bool = False) -> str:
    """Replace control and bidi characters with visible escapes (keep newlines if multiline)."""
    pattern = _UNSAFE if multiline else _UNSAFE_LINE
    return pattern.sub(_escape, text)


# json.dumps escapes C0 itself; DEL, C1, bidi and line/paragraph separators it leaves raw.
_UNSAFE_IN_JSON = re.compile(
    r"[\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\u2028\u2029]"
)


def safe_json(data: object) -> str:
    """JSON for scripts, readable (UTF-8) yet terminal-safe: json escapes C0 controls itself;
    C1 controls and bidi characters are written as \\u escapes too."""
    import json

    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
