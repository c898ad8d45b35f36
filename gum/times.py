"""Times: now, how gum writes a moment (ISO 8601 text in UTC), and the one reader of times.

    parse_time("2d")                     -> two days ago (also 30m, 45min, 3h, 1w, 1.5h)
    parse_time("2024-05-01")             -> that day, 00:00 UTC
    parse_time("2024-05-01T09:00:00Z")   -> that instant (RFC 3339; an offset is converted to UTC)
    parse_time("2024-05-01 09:00")       -> a date-time without an offset is UTC (how SQLite writes them)

The command line, the API, the MCP server, the tray and the store all read times with parse_time, so they
accept the same text; the API's OpenAPI document describes it (TIME_PATTERN, date, date-time).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

TIME_PATTERN = r"^[0-9]{1,9}(\.[0-9]{1,6})?(m|min|h|d|w)$"  # a time ago: 30m, 3h, 2d, 1w
_RELATIVE = re.compile(r"^([0-9]{1,9}(?:\.[0-9]{1,6})?)(m|min|h|d|w)$")
_DATE_TIME = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(\.[0-9]+)?)?"
    r"(?:([Zz])|([+-])([0-9]{2}):?([0-9]{2}))?)?$"
)
_SECONDS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_EARLIEST = datetime(1, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


def utcnow() -> datetime:
    """Now, in UTC, to the second (stored as ISO 8601 text)."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def iso(dt: datetime) -> str:
    """ISO 8601 text in UTC for a datetime (naive ones are taken as UTC)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def parse_time(
    value: str | float | datetime | None, now: datetime | None = None, *, strict: bool = False
) -> datetime | None:
    """A UTC datetime from a time ago ("30m", "3h", "2d", "1w"), a date, an ISO 8601 / RFC 3339 date-time,
    seconds since the epoch, or a datetime; None and "" stay None.

    strict (the API): exactly what its OpenAPI document says, so a date-time has seconds and an offset, as
    in RFC 3339; the command line and stored text may leave them out (UTC).

    Raises ValueError saying what is accepted. Times beyond what a datetime can hold are clamped, since
    "since 10 million weeks ago" simply means "since ever".
    """
    if value is None or (value == "" and not strict):
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, timezone.utc)
    text = str(value) if strict else str(value).strip()
    if len(text) == 25 and text[10] == "T" and text.endswith("+00:00"):  # as iso() writes it: the hot path
        try:
            return datetime.fromisoformat(text).astimezone(timezone.utc)
        except ValueError:
            pass
    m = _RELATIVE.match(text) if text[-1:].isalpha() else None
    if m:
        try:
            return (now or utcnow()) - timedelta(seconds=float(m.group(1)) * _SECONDS[m.group(2)])
        except OverflowError:
            return _EARLIEST
    m = _DATE_TIME.match(text)
    if m and strict and m.group(4) and not (m.group(6) and (m.group(8) or (m.group(9) and text[-3] == ":"))):
        m = None  # a date-time without seconds or offset is ISO 8601, not RFC 3339
    if not m:
        raise ValueError(
            f"{text[:40]!r} is not a time: use 30m, 3h, 2d, 1w, a date (2024-05-01) "
            "or an RFC 3339 date-time (2024-05-01T09:00:00Z)"
        )
    try:  # the common case, stored text, at C speed; the exact reading below is for everything else
        dt = datetime.fromisoformat(text)
        return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return _from_parts(text, m.groups())


def _from_parts(text: str, g: tuple) -> datetime:
    year, month, day, hour, minute, second, fraction, _zulu, sign, tz_h, tz_m = g
    try:
        year_n = max(1, int(year))  # year 0000 is valid RFC 3339 but not a Python date: the earliest will do
        tz = timezone.utc
        if sign:
            tz = timezone((1 if sign == "+" else -1) * timedelta(hours=int(tz_h), minutes=int(tz_m)))
        dt = datetime(
            year_n,
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            min(59, int(second or 0)),  # a leap second
            int(float(fraction) * 1_000_000) if fraction else 0,
            tzinfo=tz,
        )
    except ValueError as exc:
        raise ValueError(f"{text[:40]!r} is not a valid date ({exc})") from None
    try:
        return dt.astimezone(timezone.utc)
    except OverflowError:
        return _EARLIEST if dt.year < 100 else _LATEST
