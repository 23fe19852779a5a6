"""Safe YAML loading for settings and runbooks, with the line of any error.

Only the safe loaders are used (C-accelerated where available); nothing is ever constructed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ConfigError

MAX_CONFIG_BYTES = 1 << 20


def safe_loader() -> Any:
    """Return the fastest safe YAML loader class available."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_text_bounded(path: Path, limit: int) -> str:
    """Read a UTF-8 text file of at most `limit` bytes; strip a BOM; raise ConfigError otherwise."""
    import os
    import stat

    try:  # a FIFO or a device is refused unopened; O_NONBLOCK so a swapped-in one never blocks
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError("is not a regular file (a folder, FIFO or device); it is never "
                              "opened", path)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise ConfigError("is not a regular file; it is never read", path)
            raw = handle.read(limit + 1)
    except FileNotFoundError:
        raise ConfigError("file not found", path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror or exc}", path) from None
    except ValueError as exc:  # a NUL in the path
        raise ConfigError(f"cannot read file: {exc}", path) from None
    if len(raw) > limit:
        raise ConfigError(f"file is larger than {limit} bytes", path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError("file is not valid UTF-8", path, line) from None
    return text.removeprefix("\ufeff")


def load_yaml_config(path: Path) -> tuple[Any, str]:
    """Load a settings or runbook file; return (data, text). Errors name the file and line."""
    import yaml

    text = read_text_bounded(path, MAX_CONFIG_BYTES)
    try:
        data = yaml.load(text, Loader=safe_loader())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"YAML syntax error: {problem}", path, line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML error: {exc}", path) from None
    except (ValueError, OverflowError) as exc:  # e.g. an integer of more than 4300 digits
        problem = ("a number has too many digits" if "integer string conversion" in str(exc)
                   else str(exc))
        raise ConfigError(f"YAML value cannot be read: {problem}", path,
                          _line_of_problem(text)) from None
    except RecursionError:
        raise ConfigError("YAML is nested too deeply", path) from None
    return data, text


def _line_of_problem(text: str) -> int | None:
    """The line of the first over-long digit run (the usual unreadable value), if any."""
    import re

    match = re.search(r"\d{4000}", text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def line_of(text: str, keypath: tuple[str | int, ...]) -> int | None:
    """Best line for a key path in YAML text (the deepest existing ancestor); None if unknown."""
    from .positions import yaml_spans

    try:
        spans = yaml_spans(text)
    except Exception:  # a position is a nicety; never fail the real error for it
        return None
    for depth in range(len(keypath), 0, -1):
        span = spans.get(tuple(keypath[:depth]))
        if span is not None:
            return span.line
    return 1 if text else None
