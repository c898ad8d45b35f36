"""Queries over propositions, shared by the CLI, the Python API and the HTTP API."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from .ranking import by_recency, rank
from .records import Proposition, parse_ts, utcnow
from .store import Store

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str | datetime | None, now: datetime | None = None) -> datetime | None:
    """'2d', '3h', '30m', '1w' ago, or an ISO date/time."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    m = _RELATIVE.match(str(value))
    if m:
        return (now or utcnow()) - timedelta(**{_UNITS[m.group(2).lower()]: float(m.group(1))})
    try:
        return parse_ts(value)
    except ValueError as exc:
        raise ValueError(f"cannot read {value!r} as a time: use 2d, 3h, 30m or an ISO date") from exc


def query(
    store: Store, text: str, *, limit: int = 10, since=None, until=None, now: datetime | None = None
) -> list[Proposition]:
    """Active propositions for `text`: BM25 x recency x confidence, diversified (see ranking.py)."""
    candidates = store.search(text, limit=200, since=parse_when(since, now), until=parse_when(until, now))
    return rank(candidates, limit, now=now)


def recent(store: Store, *, limit: int = 10, since=None) -> list[Proposition]:
    """The newest active propositions."""
    props = store.propositions(limit=max(limit, 50), since=parse_when(since))
    return by_recency(props, limit)
