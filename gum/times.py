"""The one reader of times: what a user, a plugin or the database writes for a moment in time.

    parse_time("2d")                     -> two days ago (also 30m, 3h, 1w, 1.5h)
    parse_time("2024-05-01")             -> that day, 00:00 UTC
    parse_time("2024-05-01T09:00:00Z")   -> that instant (RFC 3339; an offset is converted to UTC)

The grammar is exactly what the OpenAPI document says (TIME_PATTERN, date, date-time), so the command line,
the API and the MCP server accept the same times.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

TIME_PATTERN = r"^[0-9]{1,9}(\.[0-9]{1,6})?(m|min|h|d|w)$"
_RELATIVE = re.compile(r"^([0-9]{1,9}(?:\.[0-9]{1,6})?)(m|min|h|d|w)$")
_DATE_TIME = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))$"
)
_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_SECONDS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_EARLIEST = datetime(1, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def parse_time(value: str | datetime | None, now: datetime | None = None) -> datetime | None:
    """A UTC datetime from "30m", "3h", "2d", "1w" ago, a date, or an RFC 3339 date-time; None stays None.

    Raises ValueError saying what is accepted. Times beyond what a datetime can hold are clamped, since
    "since 10 million weeks ago" simply means "since ever".
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    m = _RELATIVE.match(value)
    if m:
        try:
            return (now or utcnow()) - timedelta(seconds=float(m.group(1)) * _SECONDS[m.group(2)])
        except OverflowError:
            return _EARLIEST
    m = _DATE_TIME.match(value) or _DATE.match(value)
    if not m:
        raise ValueError(
            f"{value[:40]!r} is not a time: use 30m, 3h, 2d, 1w, a date (2024-05-01) "
            "or an RFC 3339 date-time (2024-05-01T09:00:00Z)"
        )
    g = m.groups()
    try:
        year = max(1, int(g[0]))  # year 0000 is valid RFC 3339 but not a Python date: the earliest will do
        if len(g) == 3:
            return datetime(year, int(g[1]), int(g[2]), tzinfo=timezone.utc)
        tz = timezone.utc
        if g[8]:
            sign = 1 if g[8] == "+" else -1
            tz = timezone(sign * timedelta(hours=int(g[9]), minutes=int(g[10])))
        second = min(59, int(g[5]))  # a leap second
        dt = datetime(year, int(g[1]), int(g[2]), int(g[3]), int(g[4]), second, tzinfo=tz)
    except ValueError as exc:
        raise ValueError(f"{value[:40]!r} is not a valid date ({exc})") from None
    try:
        return dt.astimezone(timezone.utc)
    except OverflowError:
        return _EARLIEST if dt.year < 100 else _LATEST
