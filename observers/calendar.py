"""The user's calendar: upcoming and changed events from ICS files, folders of them, or https feeds.

Off by default. It reads only the sources the user lists in config.toml:

    [plugins.calendar]
    sources = ["~/calendar.ics", "~/.local/share/evolution/calendar", "https://example.org/me.ics"]

Each event that is new or changed within the coming `horizon_days` (and the past `lookback_days`) becomes
one observation: its title, when, where, how many attendees, whether it recurs, whether it was cancelled.
The event's description (private notes, dial-in codes) is left out unless `include_notes = true`.
A recurring event is one observation for the series, plus one for each occurrence that was moved or
cancelled: a daily stand-up is one fact, not seven. Events are deduplicated by UID and SEQUENCE across
restarts (the state file holds hashes only); an update of the same UID is observed again, as an update.

Feeds are fetched with httpx at most every `fetch_minutes`, with If-None-Match / If-Modified-Since so an
unchanged feed costs one 304. icalendar parses; recurring-ical-events expands RRULE, RDATE, EXDATE and
RECURRENCE-ID overrides in the event's own time zone; times are shown in the user's local zone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from pathlib import Path

from gum.errors import ConfigError
from gum.records import Observation, utcnow

from .base import Observer
from .state import ObserverState, digest

_DAYS = {"MO": "Mon", "TU": "Tue", "WE": "Wed", "TH": "Thu", "FR": "Fri", "SA": "Sat", "SU": "Sun"}
_FREQ = {"DAILY": "day", "WEEKLY": "week", "MONTHLY": "month", "YEARLY": "year"}


@dataclass
class Source:
    """One place events come from: a file, a folder of .ics files, or a feed URL (with its HTTP cache)."""

    spec: str
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: float | None = None
    text: str | None = None  # the feed's last body, kept in memory: time moves events into the horizon

    @property
    def is_url(self) -> bool:
        return self.spec.startswith(("https://", "http://", "webcal://"))

    @property
    def url(self) -> str:
        return "https://" + self.spec[len("webcal://"):] if self.spec.startswith("webcal://") else self.spec


class Calendar(Observer):
    """Emits one observation per new, changed or cancelled event (or recurring series) in the user's calendars."""

    name = "calendar"

    def __init__(self, *, sources: list[str] | None = None, interval_minutes: float = 15.0,
                 fetch_minutes: float = 30.0, horizon_days: float = 7.0, lookback_days: float = 1.0,
                 include_notes: bool = False, timezone: str = "", max_per_read: int = 50,
                 timeout_seconds: float = 20.0, clock=utcnow, state_path: str | None = None):
        super().__init__()
        if isinstance(sources, str):
            sources = [sources]
        self.sources = [Source(str(s).strip()) for s in (sources or []) if str(s).strip()]
        self.interval = max(10.0, float(interval_minutes) * 60)
        self.fetch_s = max(60.0, float(fetch_minutes) * 60)  # polite: never more than once a minute
        self.horizon = timedelta(days=float(horizon_days))
        self.lookback = timedelta(days=float(lookback_days))
        self.include_notes = bool(include_notes)
        self.tz = _zone(timezone)
        self.max_per_read = int(max_per_read)
        self.timeout = float(timeout_seconds)
        self.clock = clock
        self._state_path = Path(state_path) if state_path else None
        self.state: ObserverState | None = None
        self.client = None
        self.emitted = 0

    def start(self) -> None:
        import httpx

        self.state = ObserverState(self.name, self._state_path)
        self.state.data.setdefault("events", {})
        if any(s.is_url for s in self.sources):
            self.client = httpx.Client(timeout=self.timeout, follow_redirects=True,
                                       headers={"User-Agent": "gum-desktop calendar observer"})
        if not self.sources:
            self.fail("unsupported here: no calendar sources configured ([plugins.calendar] sources = [...])")
        else:
            self.ok(f"{len(self.sources)} source(s), waiting for the first read")

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def tick(self) -> None:
        if self.paused() or self.state is None or not self.sources:
            return
        now = self.clock()
        problems, upcoming, new = [], 0, 0
        for source in self.sources:
            try:
                texts = self._read(source)
            except Exception as exc:  # noqa: BLE001 - one bad source must not hide the others
                problems.append(f"{source.spec}: {exc.__class__.__name__}: {exc}")
                continue
            for label, text in texts:
                try:
                    items = list(self.events(text, label, now))
                except Exception as exc:  # noqa: BLE001 - a malformed file is reported, not fatal
                    problems.append(f"{label}: cannot parse ({exc})")
                    continue
                upcoming += len(items)
                for item in items:
                    if new >= self.max_per_read:
                        break  # the rest waits for the next read: a huge first read must not flood the model
                    if self._is_new(item):
                        self.emit(item.observation(now))
                        new += 1
        self.emitted += new
        self.state.save()
        detail = f"{len(self.sources)} source(s), {upcoming} upcoming, {new} new or changed this read"
        if problems:
            self.fail("; ".join(problems)[:500])
        else:
            self.ok(detail)

    # -- reading ----------------------------------------------------------------------------------------

    def _read(self, source: Source) -> list[tuple[str, str]]:
        """(label, ICS text) pairs of a source; a feed is fetched only when its interval has passed."""
        if source.is_url:
            return [(source.url, self._fetch(source))]
        path = Path(source.spec).expanduser()
        if path.is_dir():
            return [(str(p), p.read_text(errors="replace")) for p in sorted(path.rglob("*.ics")) if p.is_file()]
        if not path.exists():
            raise FileNotFoundError(f"no such file or folder {path}")
        return [(str(path), path.read_text(errors="replace"))]

    def _fetch(self, source: Source) -> str:
        if source.text is not None and source.fetched_at is not None and time.monotonic() - source.fetched_at < self.fetch_s:
            return source.text
        headers = {}
        if source.text is not None:  # conditional only when we still hold the body a 304 refers to
            if source.etag:
                headers["If-None-Match"] = source.etag
            if source.last_modified:
                headers["If-Modified-Since"] = source.last_modified
        source.fetched_at = time.monotonic()
        response = self.client.get(source.url, headers=headers)
        if response.status_code == 304 and source.text is not None:
            return source.text
        response.raise_for_status()
        source.text = response.text
        source.etag = response.headers.get("ETag")
        source.last_modified = response.headers.get("Last-Modified")
        return source.text

    # -- interpreting -----------------------------------------------------------------------------------

    def events(self, text: str, label: str, now: datetime) -> list[Event]:
        """The events of one ICS text that fall in the window around `now`: series, overrides, single events."""
        import icalendar
        import recurring_ical_events

        try:
            import x_wr_timezone
        except ImportError:  # pragma: no cover - a dependency of recurring-ical-events
            x_wr_timezone = None
        out: list[Event] = []
        start, end = now - self.lookback, now + self.horizon
        for cal in icalendar.Calendar.from_ical(text, multiple=True):
            if x_wr_timezone is not None:
                cal = x_wr_timezone.to_standard(cal)  # Google's X-WR-TIMEZONE: floating times in that zone
            name = str(cal.get("X-WR-CALNAME") or Path(label).stem or "Calendar")
            masters = {}
            overrides = set()
            for comp in cal.walk("VEVENT"):
                uid = str(comp.get("UID", ""))
                if comp.get("RECURRENCE-ID") is not None:
                    overrides.add((uid, _key_time(comp.decoded("RECURRENCE-ID"))))
                elif comp.get("RRULE") is not None or comp.get("RDATE") is not None:
                    masters[uid] = comp
            series: dict[str, list] = {}
            for occ in recurring_ical_events.of(cal, skip_bad_series=True).between(start, end):
                uid = str(occ.get("UID", ""))
                rid = occ.get("RECURRENCE-ID")
                rid_key = _key_time(occ.decoded("RECURRENCE-ID")) if rid is not None else None
                if uid in masters and (uid, rid_key) not in overrides:
                    series.setdefault(uid, []).append(occ)
                    continue
                out.append(self._event(occ, name, kind="override" if uid in masters else "single"))
            for uid, occurrences in series.items():
                occurrences.sort(key=_sort_time)
                coming = [o for o in occurrences if _sort_time(o) >= now.timestamp()]
                shown = coming[0] if coming else occurrences[-1]
                out.append(self._event(shown, name, kind="series", master=masters[uid], count=len(coming)))
        out.sort(key=lambda e: e.sort_key)
        return out

    def _event(self, comp, calendar: str, *, kind: str, master=None, count: int = 0) -> Event:
        def text(c, prop):
            value = c.get(prop)
            return " ".join(str(value).split()) if value is not None else ""

        src = master if master is not None else comp
        attendees = comp.get("ATTENDEE")
        n_attendees = 0 if attendees is None else (len(attendees) if isinstance(attendees, list) else 1)
        start = comp.decoded("DTSTART")
        end = comp.decoded("DTEND") if comp.get("DTEND") is not None else None
        if end is None and comp.get("DURATION") is not None:
            end = start + comp.decoded("DURATION")
        return Event(
            uid=str(comp.get("UID", "")),
            recurrence_id=_key_time(comp.decoded("RECURRENCE-ID")) if kind == "override" else None,
            kind=kind,
            summary=text(comp, "SUMMARY") or "(no title)",
            location=text(comp, "LOCATION"),
            status=text(comp, "STATUS").upper(),
            sequence=int(comp.get("SEQUENCE", 0) or 0),
            start=start,
            end=end,
            attendees=n_attendees,
            calendar=calendar,
            rule=_describe_rule(src.get("RRULE")) if kind == "series" else "",
            count=count,
            notes=text(comp, "DESCRIPTION") if self.include_notes else "",
            tz=self.tz,
        )

    def _is_new(self, event: Event) -> bool:
        """Whether this event (or this version of it) has not been observed yet; records it if so."""
        seen = self.state.data["events"]
        key, fp = event.key(), event.fingerprint()
        old = seen.get(key)
        if old is not None and (old["fp"] == fp or event.sequence < old["seq"]):
            return False  # the same, or an older copy (another calendar still holding the previous version)
        event.updated = old is not None
        seen[key] = {"seq": event.sequence, "fp": fp, "end": _sort_time_of(event.end or event.start)}
        self._forget_old(seen)
        return True

    def _forget_old(self, seen: dict) -> None:
        # Events long past cannot come back into the window: their entries would only grow the file.
        cutoff = (self.clock() - self.lookback - timedelta(days=30)).timestamp()
        for key in [k for k, v in seen.items() if v.get("end", cutoff) < cutoff]:
            del seen[key]


@dataclass
class Event:
    """One event (or recurring series) as gum observes it."""

    uid: str
    recurrence_id: str | None
    kind: str  # single | series | override
    summary: str
    location: str
    status: str
    sequence: int
    start: date | datetime
    end: date | datetime | None
    attendees: int
    calendar: str
    rule: str = ""
    count: int = 0
    notes: str = ""
    tz: tzinfo | None = None
    updated: bool = False

    @property
    def all_day(self) -> bool:
        return not isinstance(self.start, datetime)

    @property
    def cancelled(self) -> bool:
        return self.status == "CANCELLED"

    @property
    def sort_key(self) -> float:
        return _sort_time_of(self.start)

    def key(self) -> str:
        return digest(self.calendar, self.uid, self.recurrence_id or ("series" if self.kind == "series" else ""))

    def fingerprint(self) -> str:
        # What a user would call a change: the next date of a series moving forward every day is not one.
        when = self.rule + _clock(self.start, self.tz) if self.kind == "series" else str(self.start)
        return digest(self.sequence, self.summary, self.location, self.status, when, str(self.end)
                      if self.kind != "series" else "", self.attendees, self.notes)

    def when(self) -> str:
        if self.kind == "series":
            span = "all day" if self.all_day else _span(self.start, self.end, self.tz, times_only=True)
            which = "next" if self.count else "last"  # no occurrence left in the horizon: the latest one
            return f"{self.rule}, {span}; {which} {_day(self.start, self.tz)}"
        if self.all_day:
            last = (self.end - timedelta(days=1)) if isinstance(self.end, date) and self.end > self.start else None
            return f"{_day(self.start)} - {_day(last)} (all day)" if last and last != self.start else (
                f"{_day(self.start)} (all day)")
        return _span(self.start, self.end, self.tz)

    def observation(self, now: datetime) -> Observation:
        # (Tried: "In the user's calendar: X". The 0.5B model then wrote "Aisha is a user's calendar app" and
        # recalled fewer facts in the eval scenarios: 4 of 8 against 6 of 8 with these plain labels.)
        if self.cancelled:
            head = "Calendar event cancelled"
        elif self.kind == "series":
            head = "Recurring calendar event" + (" updated" if self.updated else "")
        elif self.kind == "override":
            head = "Calendar event moved or changed (one occurrence of a series)"
        else:
            head = "Calendar event updated" if self.updated else "Calendar event"
        lines = [f"{head}: {self.summary}", f"When: {self.when()}"]
        if self.location:
            lines.append(f"Where: {self.location}")
        if self.attendees:
            lines.append(f"Attendees: {self.attendees}")
        lines.append(f"Calendar: {self.calendar}")
        if self.notes:
            lines.append(f"Notes: {self.notes[:500]}")
        meta = {"calendar": {"change": "cancelled" if self.cancelled else ("updated" if self.updated else "new"),
                             "kind": self.kind, "all_day": self.all_day, "start": str(self.start)}}
        if self.cancelled:
            # Stored as evidence, never read by the model on its own: a cancelled event is not something
            # the user will do (the small model turned one into "attends the workshop").
            meta["queue"] = False
        return Observation(observer="calendar", app="Calendar", window=self.calendar, text="\n".join(lines),
                           ts=now, meta=meta)


def _zone(name: str) -> tzinfo | None:
    if not name:
        return None  # the system's local zone
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"[plugins.calendar] timezone: unknown time zone {name!r}") from exc


def _local(dt: datetime, tz: tzinfo | None) -> datetime:
    if dt.tzinfo is None:
        return dt  # floating time: the same wall clock wherever the user is
    return dt.astimezone(tz) if tz is not None else dt.astimezone()


def _day(d, tz: tzinfo | None = None) -> str:
    if isinstance(d, datetime):
        d = _local(d, tz)
    return f"{d:%a} {d.day} {d:%b %Y}"


def _clock(d, tz: tzinfo | None) -> str:
    return f"{_local(d, tz):%H:%M}" if isinstance(d, datetime) else ""


def _span(start: datetime, end: datetime | None, tz: tzinfo | None, *, times_only: bool = False) -> str:
    s = _local(start, tz)
    zone = s.tzname() or ""
    text = f"{s:%H:%M}" if times_only else f"{_day(s)}, {s:%H:%M}"
    if isinstance(end, datetime):
        e = _local(end, tz)
        text += f"-{e:%H:%M}" if e.date() == s.date() or times_only else f" - {_day(e)}, {e:%H:%M}"
    return f"{text} ({zone})" if zone else text


def _describe_rule(rrule) -> str:
    if rrule is None:
        return "repeats"
    freq = (rrule.get("FREQ") or ["?"])[0]
    interval = int((rrule.get("INTERVAL") or [1])[0])
    unit = _FREQ.get(freq, freq.lower())
    text = f"every {unit}" if interval == 1 else f"every {interval} {unit}s"
    days = [_DAYS.get(str(d)[-2:], str(d)) for d in rrule.get("BYDAY") or []]
    if days and freq == "WEEKLY":
        text += " on " + ", ".join(days)
    return text


def _key_time(value) -> str:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%dT%H%M%S") if isinstance(value, datetime) else value.strftime("%Y%m%d")


def _sort_time_of(value) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()


def _sort_time(comp) -> float:
    return _sort_time_of(comp.decoded("DTSTART"))
