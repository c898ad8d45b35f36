"""The calendar observer: real ICS files (recurrences, time zones, all-day, cancelled, updates) and an https-style
feed served on loopback with ETag."""

from __future__ import annotations

import http.server
import shutil
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import ClassVar

import pytest
from gum.observers.calendar import Calendar

DATA = Path(__file__).parent / "data" / "calendar"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)  # Tue 1 Dec 2026, 07:00 in New York


def read(*sources, **kw):
    """One read of the given sources; returns (observer, observations)."""
    out = []
    cal = Calendar(sources=[str(s) for s in sources], timezone="America/New_York", clock=lambda: NOW, **kw)
    cal.attach(out.append)
    cal.start()
    cal.tick()
    return cal, out


def by_title(observations, title):
    hits = [o for o in observations if o.text.splitlines()[0].endswith(": " + title)]
    assert len(hits) == 1, [o.text for o in observations]
    return hits[0]


def test_upcoming_events_become_observations_shown_in_the_users_time_zone():
    cal, out = read(DATA / "work.ics")
    dentist = by_title(out, "Dentist: Dr. Weber")
    assert dentist.text.splitlines() == [
        "Calendar event: Dentist: Dr. Weber",
        "When: Tue 1 Dec 2026, 16:30-17:15 (EST)",
        "Where: 12 Main St",
        "Calendar: Work",
    ]
    assert dentist.observer == "calendar" and dentist.app == "Calendar" and dentist.window == "Work"
    assert not any("Conference last month" in o.text for o in out)  # outside the window
    assert cal.health()["ok"], cal.health()


def test_a_recurring_event_is_one_observation_and_a_moved_occurrence_another():
    _, out = read(DATA / "work.ics")
    series = by_title(out, "Platform team sync")
    assert series.text.splitlines()[0] == "Recurring calendar event: Platform team sync"
    # 30 Nov is past, 2 Dec is an EXDATE, 7 Dec is overridden: no plain occurrence is left in the week ahead.
    assert "every week on Mon, Wed, 10:00-10:30 (EST)" in series.text
    moved = by_title(out, "Platform team sync (moved for the offsite)")
    assert "When: Mon 7 Dec 2026, 14:00-14:30 (EST)" in moved.text
    assert "one occurrence of a series" in moved.text
    assert moved.meta["calendar"]["kind"] == "override"


def test_a_cancelled_event_says_so():
    _, out = read(DATA / "work.ics")
    cancelled = by_title(out, "Design review: billing page")
    assert cancelled.text.startswith("Calendar event cancelled: Design review: billing page")
    assert "Thu 3 Dec 2026, 14:00-15:00 (EST)" in cancelled.text  # 19:00 UTC
    assert cancelled.meta["calendar"]["change"] == "cancelled"
    assert cancelled.meta["queue"] is False  # kept as evidence; not a claim about what the user will do
    assert "queue" not in by_title(out, "Dentist: Dr. Weber").meta


def test_an_all_day_event_spans_its_days_without_a_time():
    _, out = read(DATA / "work.ics")
    offsite = by_title(out, "Team offsite in Lisbon")
    assert "When: Fri 4 Dec 2026 - Sat 5 Dec 2026 (all day)" in offsite.text  # DTEND is exclusive
    assert offsite.meta["calendar"]["all_day"] is True


def test_google_floating_times_take_the_calendars_x_wr_timezone():
    _, out = read(DATA / "personal.ics")
    climbing = by_title(out, "Climbing with Jonas")
    assert "Wed 2 Dec 2026, 11:00-13:00 (EST)" in climbing.text  # 17:00 in Berlin
    assert climbing.window == "Personal"


def test_private_notes_and_attendee_names_stay_out_unless_the_user_opts_in():
    _, out = read(DATA / "work.ics")
    text = "\n".join(o.text for o in out)
    assert "insurance card" not in text and "Dial-in" not in text and "884 221" not in text
    assert "Ana Ruiz" not in text and "ana@example.org" not in text
    assert "Attendees: 3" in by_title(out, "Platform team sync").text

    _, out = read(DATA / "work.ics", include_notes=True)
    assert "Notes: Bring the insurance card" in by_title(out, "Dentist: Dr. Weber").text


def test_an_update_of_the_same_uid_is_observed_again_as_an_update_and_nothing_repeats(tmp_path):
    folder = tmp_path / "Thunderbird export"
    folder.mkdir()
    shutil.copy(DATA / "work.ics", folder)
    state = tmp_path / "calendar-state.json"
    cal, first = read(folder, state_path=state)
    assert len(first) == 5

    cal.tick()  # the same files again: nothing new
    assert len(first) == 5

    shutil.copy(DATA / "dentist-moved.ics", folder)  # SEQUENCE 1 of the dentist's UID, a day later
    _, again = read(folder, state_path=state)  # a restart, with the state the first run saved
    assert [o.text.splitlines()[:2] for o in again] == [
        ["Calendar event updated: Dentist: Dr. Weber", "When: Wed 2 Dec 2026, 10:00-10:45 (EST)"]]
    assert again[0].meta["calendar"]["change"] == "updated"
    assert "Dentist" not in state.read_text() and "dentist-99" not in state.read_text()  # hashes only


class _Feed(http.server.BaseHTTPRequestHandler):
    body = b""
    etag = '"v1"'
    requests: ClassVar[list] = []

    def do_GET(self):
        type(self).requests.append(dict(self.headers))
        if self.headers.get("If-None-Match") == self.etag:
            self.send_response(304)
            self.send_header("ETag", self.etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar; charset=utf-8")
        self.send_header("ETag", self.etag)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def feed():
    _Feed.body = (DATA / "work.ics").read_bytes()
    _Feed.etag = '"v1"'
    _Feed.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/calendar.ics"
    server.shutdown()
    server.server_close()


def test_a_feed_is_fetched_politely_with_etag_and_a_change_is_seen(feed):
    cal, out = read(feed)
    assert len(out) == 5 and cal.health()["ok"], cal.health()
    assert "If-None-Match" not in _Feed.requests[0]

    cal.tick()  # within fetch_minutes: no request at all
    assert len(_Feed.requests) == 1

    cal.sources[0].fetched_at -= 3600  # an hour later
    cal.tick()
    assert len(_Feed.requests) == 2 and _Feed.requests[1]["If-None-Match"] == '"v1"'  # answered 304
    assert len(out) == 5 and "5 upcoming" in cal.health()["detail"]  # the cached body still counts

    _Feed.body = (DATA / "dentist-moved.ics").read_bytes()
    _Feed.etag = '"v2"'
    cal.sources[0].fetched_at -= 3600
    cal.tick()
    assert out[-1].text.startswith("Calendar event updated: Dentist: Dr. Weber")


def test_a_missing_source_is_reported_and_the_others_are_still_read(tmp_path):
    cal, out = read(tmp_path / "gone.ics", DATA / "personal.ics")
    assert [o.text.splitlines()[0] for o in out] == ["Calendar event: Climbing with Jonas"]
    health = cal.health()
    assert not health["ok"] and "gone.ics" in health["detail"]


def test_no_sources_is_an_honest_health_message():
    cal = Calendar()
    cal.start()
    assert not cal.health()["ok"] and "sources" in cal.health()["detail"]
