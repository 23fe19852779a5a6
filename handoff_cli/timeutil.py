"""UTC timestamps as handoff writes and reads them (ISO 8601, 'Z' suffix, whole seconds)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def now_utc() -> datetime:
    """The current time in UTC, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def iso(moment: datetime) -> str:
    """Format a datetime as UTC ISO 8601 with a Z."""
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_iso(text: object) -> datetime | None:
    """Parse an ISO 8601 timestamp (naive means UTC); None if it is not one."""
    if not isinstance(text, str) or not text.strip():
        return None
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-23:59 is past the end of the calendar
        return None


LATEST = datetime.max.replace(tzinfo=timezone.utc)
EARLIEST = datetime.min.replace(tzinfo=timezone.utc)


def later(moment: datetime, delta: timedelta) -> datetime:
    """moment + delta, held at the ends of the calendar instead of overflowing."""
    try:
        return moment + delta
    except OverflowError:
        return LATEST if delta >= timedelta(0) else EARLIEST


def duration_text(value: timedelta, parts: int = 2) -> str:
    """A duration as '2d 3h', '4h 10m', '12m' or '40s', with at most `parts` units."""
    seconds = int(abs(value.total_seconds()))
    units = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            units.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(units[:parts]) or f"{seconds}s"


def rounded_duration(value: timedelta) -> str:
    """A duration to the nearest whole unit: 3h40m is '4h', 89s is '1m', 23h50m is '1d'."""
    seconds = abs(value.total_seconds())
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    for index, (unit, size) in enumerate(units):
        if seconds >= size or unit == "s":
            count = int(seconds / size + 0.5)
            bigger = units[index - 1] if index else None
            if bigger is not None and count * size >= bigger[1]:
                return f"{int(count * size / bigger[1] + 0.5)}{bigger[0]}"
            return f"{count}{unit}"
    return "0s"  # unreachable: 's' always matches


def local_text(moment: datetime) -> str:
    """A moment in the reader's local time zone: 'Wed 25 Nov 18:00 CET' (JSON keeps UTC)."""
    local = moment.astimezone()
    return local.strftime("%a %d %b %H:%M ") + (local.tzname() or local.strftime("%z"))
