"""What a question asks, as retrieval needs it: its content words, the time window it names, the text to embed.

Assistants ask "which accounting software does she use?" or "what was Dana doing last week?", not a
proposition's own words. Three things in such a question carry nothing for a lexical match and only add cost:
the user's name (it is in nearly every proposition, so it matches everything), question and filler words
("which", "does", "kind of", "tell me"), and stop words. A time phrase ("yesterday", "last week", "in March",
"3 days ago") is not a topic either: it narrows the window and leaves the words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .records import utcnow
from .store import STOPWORDS


def _words(text: str) -> list[str]:
    return text.split()


QUESTION_WORDS = frozenset(_words(
    "what whats what's which who whom whose why how when where whether does do did doing done is are was were "
    "am be tell know knows anything something everything nothing kind kinds sort sorts type types any some "
    "much many thing things stuff currently usually ever often lately recently please give "
    "describe say said think thinks mean there else such via per one ones happen happened happening going"
))
_WORD = re.compile(r"[\w][\w'+#.-]*", re.UNICODE)

_MONTHS = {m: i for i, m in enumerate(
    _words("january february march april may june july august september october november december"), 1)}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_DAYS = {d: i for i, d in enumerate(_words("monday tuesday wednesday thursday friday saturday sunday"))}
_NUMBERS = {w: i for i, w in enumerate(
    _words("zero one two three four five six seven eight nine ten eleven twelve"))}
_NUMBERS.update({"a": 1, "an": 1, "couple": 2, "few": 3})
_UNIT_DAYS = {"day": 1, "week": 7, "fortnight": 14, "month": 30, "year": 365}
_NUM = r"(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|couple of|few)"
_UNIT = r"(day|week|fortnight|month|year)s?"
_MONTH = r"(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
# "On Thursday" is a past day only in a question about the past ("what did she do on Monday?"). In "has
# parent-teacher conferences on Thursday" or "is she presenting on Thursday?" it is when a plan happens, and
# the evidence of that plan was seen on some other day: the day stays a word to match ("every week on
# Thursday"), not a window.
_PAST = re.compile(r"\b(did|was|were|had|went|happened|got|made|saw|wrote|read|bought|met)\b")


@dataclass
class Question:
    """A question taken apart: lexical terms, the text to embed, and the window its time phrase names."""

    text: str
    terms: list[str]
    dense: str
    since: datetime | None = None
    until: datetime | None = None
    time_phrase: str = ""
    dropped: list[str] = field(default_factory=list)


def _day_start(t: datetime) -> datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def _count(word: str) -> int:
    word = word.replace(" of", "")
    return int(word) if word.isdigit() else _NUMBERS.get(word, 1)


def _month_window(month: int, year: int | None, now: datetime) -> tuple[datetime, datetime]:
    if year is None:  # the most recent such month that has begun
        year = now.year if month <= now.month else now.year - 1
    start = now.replace(year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=year + 1, month=1) if month == 12 else start.replace(month=month + 1)
    return start, end


def time_window(text: str, now: datetime | None = None) -> tuple[datetime | None, datetime | None, str]:
    """The window a time phrase in `text` names, and the phrase; (None, None, '') when there is none.

    Days run in the clock of `now` (UTC unless `now` carries another zone).
    """
    now = now or utcnow()
    low = text.lower()
    today = _day_start(now)
    rules: list[tuple[str, object]] = [
        (r"\b(?:in|over|during|within)?\s*(?:the\s+)?(?:last|past|previous)\s+" + _NUM + r"\s+" + _UNIT + r"\b",
         lambda m: (now - timedelta(days=_count(m.group(1)) * _UNIT_DAYS[m.group(2)]), None)),
        (r"\b" + _NUM + r"\s+" + _UNIT + r"\s+ago\b",
         lambda m: _around(now - timedelta(days=_count(m.group(1)) * _UNIT_DAYS[m.group(2)]),
                           _UNIT_DAYS[m.group(2)])),
        (r"\b(?:the\s+)?day\s+before\s+yesterday\b", lambda m: (today - timedelta(days=2), today - timedelta(days=1))),
        (r"\byesterday\b|\blast\s+night\b", lambda m: (today - timedelta(days=1), today)),
        (r"\btoday\b|\btonight\b|\bthis\s+(?:morning|afternoon|evening)\b", lambda m: (today, None)),
        (r"\bthis\s+week\b", lambda m: (today - timedelta(days=now.weekday()), None)),
        (r"\blast\s+week\b|\bprevious\s+week\b",
         lambda m: (today - timedelta(days=now.weekday() + 7), today - timedelta(days=now.weekday()))),
        (r"\bthis\s+month\b", lambda m: (today.replace(day=1), None)),
        (r"\blast\s+month\b|\bprevious\s+month\b", lambda m: _month_window(
            12 if now.month == 1 else now.month - 1, now.year - 1 if now.month == 1 else now.year, now)),
        (r"\bthis\s+year\b", lambda m: (today.replace(month=1, day=1), None)),
        (r"\blast\s+year\b", lambda m: (today.replace(year=now.year - 1, month=1, day=1),
                                        today.replace(month=1, day=1))),
        (r"\b(?:last|this\s+past)\s+" + _DAY + r"\b", lambda m: _last_weekday(_DAYS[m.group(1)], today)),
        (r"\bon\s+" + _DAY + r"\b" if _PAST.search(low) else r"(?!)",
         lambda m: _last_weekday(_DAYS[m.group(1)], today)),
        (r"\bsince\s+" + _MONTH + r"(?:\s+(\d{4}))?\b",
         lambda m: (_month_window(_MONTHS[m.group(1)], int(m.group(2)) if m.group(2) else None, now)[0], None)),
        (r"\b(?:in|during|of|early|late|mid)\s+(?:early\s+|late\s+|mid-?)?" + _MONTH + r"(?:\s+(\d{4}))?\b",
         lambda m: _month_window(_MONTHS[m.group(1)], int(m.group(2)) if m.group(2) else None, now)),
    ]
    for pattern, window in rules:
        m = re.search(pattern, low)
        if m:
            since, until = window(m)
            return since, until, text[m.start():m.end()].strip()
    return None, None, ""


def _around(t: datetime, unit_days: int) -> tuple[datetime, datetime]:
    # "3 days ago" means about then: a day either side for days, half a unit for longer units.
    slack = timedelta(days=1 if unit_days == 1 else unit_days / 2)
    return t - slack, t + slack


def _last_weekday(day: int, today: datetime) -> tuple[datetime, datetime]:
    back = (today.weekday() - day) % 7 or 7
    start = today - timedelta(days=back)
    return start, start + timedelta(days=1)


def name_words(user_name: str) -> frozenset[str]:
    """The user's name and its parts, lowercased (with and without a possessive 's)."""
    words = {w.lower().strip("'") for w in _WORD.findall(user_name or "")}
    return frozenset(w for w in words if w) | frozenset(w + "'s" for w in words if w)


def parse(text: str, user_name: str = "", now: datetime | None = None) -> Question:
    """Take `text` apart (see the module docstring); with no time phrase the window is left open."""
    from .vectors import dense_text

    since, until, phrase = time_window(text, now)
    rest = text
    if phrase:
        i = rest.lower().find(phrase.lower())
        rest = (rest[:i] + " " + rest[i + len(phrase):]) if i >= 0 else rest
    names = name_words(user_name)
    terms, dropped = [], []
    for raw in _WORD.findall(rest):
        w = raw.lower().strip("'.-")
        w = w.removesuffix("'s")
        if len(w) < 2 or w in STOPWORDS or w in QUESTION_WORDS or w in names:
            dropped.append(raw)
        elif w not in terms:
            terms.append(w)
    return Question(text=text, terms=terms, dense=dense_text(" ".join(rest.split()), user_name),
                    since=since, until=until, time_phrase=phrase, dropped=dropped)
