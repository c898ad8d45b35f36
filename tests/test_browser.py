"""The browser-history observer, on real places.sqlite and History files built with the browsers' own schema
(tests/data/*.sql, dumped from profiles that Debian's firefox-esr and chromium created) and held locked by an
open writer, as a running browser holds them."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from gum.observers.browser import BrowserHistory, discover

from gum.engagement import engagement
from gum.privacy import Exclusions

DATA = Path(__file__).parent / "data"
CHROMIUM_EPOCH = datetime(1601, 1, 1, tzinfo=timezone.utc)
NOW = datetime.now(timezone.utc)


class Firefox:
    """A Firefox profile's places.sqlite with Firefox's schema, written the way Firefox writes it (WAL,
    exclusive locking), and kept open like a running browser."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "places.sqlite"
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA locking_mode = EXCLUSIVE")
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.executescript((DATA / "firefox-places.sql").read_text())
        self.db.execute("PRAGMA user_version = 86")

    def visit(self, url, title, *, ago_min=5, visit_type=1, view_ms=0, keys=0, scroll_ms=0):
        ts = int((NOW - timedelta(minutes=ago_min)).timestamp() * 1e6)
        row = self.db.execute("SELECT id FROM moz_places WHERE url = ?", [url]).fetchone()
        if row is None:
            place = self.db.execute(
                "INSERT INTO moz_places (url, title, rev_host, visit_count, frecency, last_visit_date, guid) "
                "VALUES (?, ?, '', 1, 100, ?, hex(randomblob(6)))", [url, title, ts]).lastrowid
        else:
            place = row[0]
            self.db.execute("UPDATE moz_places SET visit_count = visit_count + 1, last_visit_date = ? "
                            "WHERE id = ?", [ts, place])
        self.db.execute("INSERT INTO moz_historyvisits (from_visit, place_id, visit_date, visit_type, session, "
                        "source) VALUES (0, ?, ?, ?, 0, 0)", [place, ts, visit_type])
        if view_ms or keys or scroll_ms:
            self.db.execute("INSERT INTO moz_places_metadata (place_id, created_at, updated_at, total_view_time, "
                            "key_presses, scrolling_time) VALUES (?, ?, ?, ?, ?, ?)",
                            [place, ts // 1000, ts // 1000, view_ms, keys, scroll_ms])


class Chromium:
    """A Chromium profile's History with Chromium's schema, held with an exclusive lock."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "History"
        self.db = sqlite3.connect(self.path, isolation_level=None)
        self.db.execute("PRAGMA locking_mode = EXCLUSIVE")
        self.db.executescript((DATA / "chromium-history.sql").read_text())
        self.db.executemany("INSERT INTO meta VALUES (?, ?)",
                            [("version", "70"), ("last_compatible_version", "16"), ("mmap_status", "-1")])

    def visit(self, url, title, *, ago_min=5, transition=0x30000000, duration_s=0.0):
        ts = int(((NOW - timedelta(minutes=ago_min)) - CHROMIUM_EPOCH).total_seconds() * 1e6)
        row = self.db.execute("SELECT id FROM urls WHERE url = ?", [url]).fetchone()
        if row is None:
            uid = self.db.execute("INSERT INTO urls (url, title, visit_count, typed_count, last_visit_time, hidden) "
                                  "VALUES (?, ?, 1, 0, ?, 0)", [url, title, ts]).lastrowid
        else:
            uid = row[0]
            self.db.execute("UPDATE urls SET visit_count = visit_count + 1 WHERE id = ?", [uid])
        self.db.execute("INSERT INTO visits (url, visit_time, from_visit, transition, segment_id, visit_duration) "
                        "VALUES (?, ?, 0, ?, 0, ?)", [uid, ts, transition, int(duration_s * 1e6)])


def observe(*profiles, **kw):
    out = []
    obs = BrowserHistory(profiles=[str(p.path) for p in profiles], state_path=str(kw.pop("state")), **kw)
    obs.attach(out.append)
    obs.start()
    obs.tick()
    return obs, out


@pytest.fixture
def state(tmp_path):
    return tmp_path / "browser-state.json"


def test_firefox_pages_visited_are_read_from_a_copy_while_the_browser_holds_the_lock(tmp_path, state):
    ff = Firefox(tmp_path / "abcd.default-esr")
    ff.visit("https://docs.rs/tokio/latest/tokio/sync/struct.Mutex.html?search=mutex#method.lock",
             "Mutex in tokio::sync - Rust", view_ms=185_000, keys=0, scroll_ms=9000)
    ff.visit("https://github.com/tokio-rs/tokio/issues/1234", "Deadlock when holding a Mutex across .await",
             ago_min=3, visit_type=2)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite3.connect(ff.path, timeout=0).execute("SELECT COUNT(*) FROM moz_places").fetchone()

    obs, out = observe(ff, state=state)
    assert obs.health()["ok"], obs.health()
    assert [o.text.splitlines() for o in out] == [
        ["Visited in Firefox: Mutex in tokio::sync - Rust", "Site: docs.rs", "Visited once since the last read (1 in all)",
         "Time on page: 3 min"],
        ["Visited in Firefox: Deadlock when holding a Mutex across .await", "Site: github.com",
         "Visited once since the last read (1 in all)"],
    ]
    page = out[0]
    assert page.observer == "browser" and page.app == "Firefox" and page.window == "Mutex in tokio::sync - Rust"
    assert page.meta["engagement"] == {"keys": 0, "clicks": 1, "scrolls": 1, "dwell_s": 185}


def test_only_visits_since_the_last_read_are_observed(tmp_path, state):
    ff = Firefox(tmp_path / "p.default")
    ff.visit("https://news.ycombinator.com/", "Hacker News")
    obs, out = observe(ff, state=state)
    assert len(out) == 1
    obs.tick()
    assert len(out) == 1  # nothing new

    ff.visit("https://news.ycombinator.com/", "Hacker News", ago_min=1)
    ff.visit("https://news.ycombinator.com/", "Hacker News", ago_min=0)
    _, again = observe(ff, state=state)  # a restart reads on from the saved position
    assert [o.text.splitlines()[2] for o in again] == ["Visited 2 times since the last read (3 in all)"]


def test_chromium_history_with_durations_redirects_and_subframes(tmp_path, state):
    ch = Chromium(tmp_path / "chromium" / "Default")
    ch.visit("https://www.figma.com/file/XYZ/Billing?node-id=1%3A2&t=secret", "Billing redesign - Figma",
             duration_s=1260)
    ch.visit("http://t.co/abc", "", transition=0x10000000)  # a redirect that led away: not a page seen
    ch.visit("https://ads.example.net/frame", "ad frame", transition=0x30000003)  # an auto subframe
    ch.visit("https://www.figma.com/file/XYZ/Billing?node-id=5", "Billing redesign - Figma", ago_min=2,
             transition=0x30000001, duration_s=240)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite3.connect(ch.path, timeout=0).execute("SELECT COUNT(*) FROM urls").fetchone()

    _, out = observe(ch, state=state)
    assert [o.text.splitlines() for o in out] == [[
        "Visited in Chromium: Billing redesign - Figma", "Site: figma.com",
        "Visited 2 times since the last read (1 in all)", "Time on page: 25 min"]]
    assert out[0].meta["engagement"]["dwell_s"] == 1500 and out[0].meta["engagement"]["clicks"] == 2


def test_query_strings_paths_and_excluded_domains_are_never_stored(tmp_path, state):
    ff = Firefox(tmp_path / "p.default")
    ff.visit("https://www.chase.com/personal/checking?acct=0099", "Chase: account summary")
    ff.visit("https://mychart.example-health.org/visits?id=7", "MyChart - Test results")
    ff.visit("https://vault.bitwarden.com/#/vault", "Bitwarden Web vault")
    ff.visit("https://www.pornhub.com/view?v=1", "video")
    ff.visit("https://intranet.acme.test/hr/", "HR portal")  # the user's own exclude_domains
    ff.visit("https://wiki.example.org/pay", "Salary bands 2027")  # the user's own window exclusion
    ff.visit("https://login.example.org/", "KeePass export help")  # the title matches a window exclusion
    ff.visit("file:///home/me/notes.html", "my notes")  # not a web page
    ff.visit("https://www.google.com/search?q=rash+on+arm+after+hiking&oq=rash", "rash after hiking - Google Search")
    obs, out = observe(ff, state=state, exclude_domains=["acme.test"],
                       exclusions=Exclusions(["Salary*"]))
    assert [o.window for o in out] == ["rash after hiking - Google Search"]
    stored = repr([(o.text, o.window, o.app, o.meta) for o in out])
    assert "?" not in stored and "q=" not in stored and "/search" not in stored
    assert "chase" not in stored.lower() and "mychart" not in stored.lower() and "acme" not in stored
    assert "7 excluded" in obs.health()["detail"]  # the file: page is not a web page, not an exclusion
    assert "chase" not in state.read_text() and "google" not in state.read_text()  # ids and hashes only


def test_a_visited_page_counts_as_engagement(tmp_path, state):
    ch = Chromium(tmp_path / "Default")
    ch.visit("https://arxiv.org/abs/2503.12345", "Graph neural networks for scheduling", duration_s=420)
    _, out = observe(ch, state=state)
    e = engagement(out[0])
    assert e.known and e.active and e.weight == 1.0
    assert "on screen for 7 min" in e.describe()


def test_a_vanished_profile_is_reported(tmp_path, state):
    ff = Firefox(tmp_path / "p.default")
    obs = BrowserHistory(profiles=[str(ff.path)], state_path=str(state))
    obs.start()
    ff.db.close()
    ff.path.unlink()
    obs.tick()
    assert not obs.health()["ok"] and "gone" in obs.health()["detail"]


def test_profiles_are_discovered_where_the_browsers_keep_them(tmp_path):
    Firefox(tmp_path / ".mozilla/firefox/x1y2.default-esr")
    Chromium(tmp_path / ".config/google-chrome/Profile 1")
    found = [(p.browser, p.label) for p in discover(tmp_path)]
    assert found == [("firefox", "Firefox (x1y2.default-esr)"), ("chromium", "Google Chrome (Profile 1)")]


def test_a_visit_in_the_history_corroborates_the_screen_showing_that_page(tmp_path, state):
    from gum.records import Observation

    ch = Chromium(tmp_path / "Default")
    ch.visit("https://arxiv.org/abs/2503.12345", "Graph neural networks for scheduling", duration_s=420)
    _, out = observe(ch, state=state)
    visit = out[0]
    visit.id = 1
    screen = Observation(observer="screen", app="Chromium", ts=visit.ts + timedelta(minutes=1), id=2,
                         window="Graph neural networks for scheduling - Chromium", text="Abstract ...")
    alone, with_visit = engagement(screen), engagement(screen, [visit])
    assert with_visit.weight > alone.weight and with_visit.dwell_s == 420 and "visit #1" in with_visit.reasons


def test_a_page_left_within_seconds_is_a_glance_not_engagement(tmp_path, state):
    ch = Chromium(tmp_path / "Default")
    ch.visit("https://cruises.example.com/mediterranean?utm_source=ad", "Top 10 Mediterranean cruises",
             duration_s=4)
    _, out = observe(ch, state=state)
    assert out[0].meta["engagement"]["clicks"] == 0
    assert out[0].meta["queue"] is False  # stored, never read by the model on its own
    e = engagement(out[0])
    assert not e.active and e.weight == 0.5


def test_no_profiles_on_this_machine_is_unsupported_not_a_failure_to_restart(tmp_path):
    obs = BrowserHistory(home=str(tmp_path), state_path=str(tmp_path / "s.json"))
    obs.start()
    health = obs.health()
    assert not health["ok"] and health["detail"].startswith("unsupported here: no browser profiles")
