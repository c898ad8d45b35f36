"""The day at a glance (gum/timeline.py): lanes, gaps, totals and what gum learned; the not-recorded spans the
agent keeps; GET /v1/timeline and its scopes; `gum today` / `gum timeline`."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import httpx
import pytest
from click.testing import CliRunner
from timeline_seed import EXCLUDED, PAUSED, seed_day

from gum.records import Observation
from gum.timeline import build, day_bounds, load, local_day, merge

UTC = timezone.utc
DAY = date(2026, 3, 10)


@pytest.fixture
def tz(monkeypatch):
    """Set the machine's time zone for one test (TZ), restored afterwards."""
    def use(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def seg(app, start, end, *, id, title="doc", keys=0, clicks=0, scrolls=0, measured=True):
    meta = {"segment": {"state": "closed", "captures": 2, "kind": "activity"}}
    if measured:
        meta["engagement"] = {"keys": keys, "clicks": clicks, "scrolls": scrolls,
                              "dwell_s": (end - start).total_seconds()}
    return Observation("screen", "text", ts=start, ts_end=end, app=app, window=title, meta=meta, id=id)


def minute(end, keys=5):
    return Observation("input", "", ts=end, meta={"input": {"keys": keys, "clicks": 0, "scrolls": 0, "period_s": 60}})


def utc(h, m=0, day=DAY):
    return datetime(day.year, day.month, day.day, h, m, tzinfo=UTC)


def day_of(observations, unrecorded=(), day=DAY, zone=UTC, **kw):
    start, end = day_bounds(day, zone)
    return build(day, start, end, observations, list(unrecorded), **kw)


# -- totals ------------------------------------------------------------------------------------------------


def test_overlapping_segments_of_one_app_count_once_and_each_app_keeps_its_own_time():
    d = day_of([
        seg("Firefox", utc(9), utc(10), id=1),
        seg("Firefox", utc(9, 30), utc(10, 30), id=2, title="other"),  # a second monitor, same app
        seg("Mousepad", utc(10), utc(10, 15), id=3),  # overlaps Firefox: both apps were on screen
    ])
    totals = {t.key: t.total_s for t in d.totals}
    assert totals == {"firefox": 90 * 60, "mousepad": 15 * 60}
    assert d.recorded_s == 90 * 60, "time on screen counts the overlap once"
    assert [lane.app for lane in d.lanes] == ["firefox", "mousepad"], "the busiest lane first"
    assert [b.id for b in d.lanes[0].blocks] == [1, 2]
    ff = d.totals[0]
    assert {a.label: a.total_s for a in ff.activities} == {"doc": 3600, "other": 3600}


def test_active_time_is_the_minutes_with_input_and_the_rest_of_the_time_is_passive():
    d = day_of([seg("Firefox", utc(9), utc(10), id=1, keys=300)]
               + [minute(utc(9, m)) for m in range(1, 21)]  # input from 09:00 to 09:20
               + [minute(utc(11, 1))])  # input outside any segment counts for nothing
    t = d.totals[0]
    assert (t.total_s, t.active_s, t.passive_s) == (3600, 1200, 2400)
    assert d.lanes[0].blocks[0].active_s == 1200
    assert d.active_basis == "input" and d.active_s == 1200


def test_without_input_summaries_a_segment_with_input_counts_as_active_and_one_without_as_reading():
    d = day_of([seg("Mousepad", utc(9), utc(9, 30), id=1, keys=50), seg("Firefox", utc(10), utc(11), id=2)])
    assert d.active_basis == "segments"
    assert {t.key: (t.active_s, t.passive_s) for t in d.totals} == {"mousepad": (1800, 0), "firefox": (0, 3600)}


def test_a_segment_across_midnight_is_split_between_the_two_days():
    s = seg("xterm", utc(23, 40, date(2026, 3, 9)), utc(0, 20), id=7)
    before = day_of([s], day=date(2026, 3, 9))
    after = day_of([s])
    b1, b2 = before.lanes[0].blocks[0], after.lanes[0].blocks[0]
    assert (b1.span_s, b1.cut_start, b1.cut_end) == (20 * 60, False, True)
    assert (b2.span_s, b2.cut_start, b2.cut_end) == (20 * 60, True, False)
    assert b1.dwell_s == b2.dwell_s == 40 * 60, "dwell is the whole segment's"
    assert before.totals[0].total_s + after.totals[0].total_s == 40 * 60


def test_the_day_is_the_users_local_day_in_their_time_zone(tz):
    tz("America/New_York")
    start, end = day_bounds(DAY)  # the machine's zone: EDT (UTC-4) since 8 March
    assert (start, end) == (utc(4), utc(4, day=date(2026, 3, 11)))
    assert local_day(utc(3)) == date(2026, 3, 9), "03:00 UTC is still the evening before in New York"
    # The day the clocks go forward has 23 hours; the explicit zone gives the same answer as TZ.
    s, e = day_bounds(date(2026, 3, 8))
    zs, ze = day_bounds(date(2026, 3, 8), ZoneInfo("America/New_York"))
    assert (e - s) == (ze - zs) == timedelta(hours=23)
    late = seg("Firefox", utc(2), utc(3), id=1)  # 22:00-23:00 on the 9th, local
    assert day_of([late], day=date(2026, 3, 9), zone=None).totals[0].total_s == 3600
    assert day_of([late], zone=None).lanes == []
    tz("Asia/Tokyo")
    assert day_bounds(DAY)[0] == datetime(2026, 3, 9, 15, tzinfo=UTC)


def test_idle_gaps_paused_and_excluded_spans_and_what_is_not_a_gap():
    d = day_of(
        [seg("a", utc(9), utc(10), id=1), seg("b", utc(10, 2), utc(11), id=2), seg("a", utc(12), utc(13), id=3),
         seg("b", utc(14), utc(15), id=4)],
        [("paused", utc(13), utc(13, 30)), ("excluded", utc(13, 30), utc(14))],
        now=utc(16))
    gaps = [(g.kind, g.start, g.end) for g in d.gaps]
    assert gaps == [("idle", utc(11), utc(12)), ("paused", utc(13), utc(13, 30)),
                    ("excluded", utc(13, 30), utc(14))], "a 2-minute switch is no gap; after 15:00 is not over yet"


def test_the_week_totals_cover_the_seven_days_ending_with_the_day():
    obs = [seg("a", utc(9, day=DAY - timedelta(days=n)), utc(10, day=DAY - timedelta(days=n)), id=n + 1)
           for n in range(9)]
    start, end = day_bounds(DAY, UTC)
    week_from = day_bounds(DAY - timedelta(days=6), UTC)[0]
    d = build(DAY, start, end, obs[:1], [], week=obs, week_start_at=week_from, week_start=DAY - timedelta(days=6))
    assert d.totals[0].total_s == 3600 and d.week[0].total_s == 7 * 3600


def test_merge_joins_touching_and_overlapping_intervals():
    assert merge([(utc(3), utc(4)), (utc(1), utc(2)), (utc(2), utc(3)), (utc(5), utc(5))]) == [(utc(1), utc(4))]


# -- from the database -----------------------------------------------------------------------------------


def test_a_seeded_day_has_lanes_per_app_gaps_totals_and_what_was_learned_by_segment(store):
    today = local_day(datetime.now(UTC))
    s = seed_day(store, today)
    d = load(store, today, now=s.at("23:00"))
    assert [lane.label for lane in d.lanes] == ["firefox", "mousepad", "xterm"]
    firefox = next(lane for lane in d.lanes if lane.app == "firefox")
    assert [(b.start, b.end) for b in firefox.blocks] == [(s.at("09:00"), s.at("09:40")),
                                                         (s.at("10:30"), s.at("10:50")),
                                                         (s.at("13:00"), s.at("13:20"))]
    assert firefox.total_s == 80 * 60
    assert firefox.active_s == (30 + 5) * 60, "the Rust book was read, not typed in"
    assert [(g.kind, g.start, g.end) for g in d.gaps] == [
        ("idle", s.at("10:50"), s.at("11:30")), ("paused", s.at(PAUSED[0]), s.at(PAUSED[1])),
        ("excluded", s.at(EXCLUDED[0]), s.at(EXCLUDED[1]))]
    careers = d.block(s.segments[0])
    assert careers.propositions == [s.props["job"]] and careers.keys == 120
    actions = {(e.action, e.proposition.id) for e in d.learned}
    assert actions >= {("created", s.props["job"]), ("created", s.props["letter_v1"]),
                       ("revised", s.props["letter"]), ("confirmed", s.props["job"]),
                       ("revoked", s.props["secret"])}
    groups = {b.id: {(e.action, e.proposition.id) for e in items} for b, items in d.learned_by_segment() if b}
    assert ("revised", s.props["letter"]) in groups[s.segments[1]]
    assert ("created", s.props["job"]) in groups[s.segments[4]], "evidence from two segments: listed under both"
    first = next(e for e in d.learned if e.proposition.id == s.props["letter_v1"])
    assert first.current_id == s.props["letter"], "a revised proposition jumps to its active version"
    assert s.props["secret"] not in d.block(s.segments[3]).propositions, "a revoked one is nobody's evidence"


def test_pause_and_resume_keep_a_paused_span_with_no_content(agent):
    t0 = datetime.now(UTC) - timedelta(seconds=1)
    agent.pause()
    agent.intake.due(datetime.now(UTC) + timedelta(seconds=30))  # the scheduler's heartbeat while paused
    agent.resume()
    agent.intake.due()  # no longer paused: nothing more is noted
    spans = agent.store().unrecorded(t0 - timedelta(minutes=1), t0 + timedelta(minutes=5))
    assert len(spans) == 1 and spans[0][0] == "paused"
    assert spans[0][2] - spans[0][1] >= timedelta(seconds=29)
    assert agent.store().counts()["observations"] == 0


def test_an_excluded_window_in_front_is_kept_as_time_only(store):
    from gum.observers import ActiveWindow
    from gum.observers.activity import Activity, WindowInfo

    from gum.intake import Intake
    from gum.privacy import Exclusions

    class Desk:
        supported = True
        front = WindowInfo("KeePassXC", "Passwords.kdbx - bank PIN")

        def active_window(self):
            return self.front

        def close(self):
            pass

    desk = Desk()
    intake = Intake(lambda: store)
    w = ActiveWindow(exclusions=Exclusions(pids=set()), desktop_factory=lambda: desk)
    w.attach(intake.add, paused=lambda: False, activity=Activity())
    w.start()
    w.tick()
    desk.front = WindowInfo("Mousepad", "notes.txt")
    w.tick()
    w.stop()
    now = datetime.now(UTC)
    assert [r for r, _, _ in store.unrecorded(now - timedelta(minutes=1), now + timedelta(minutes=1))] == ["excluded"]
    stored = store.observations(limit=10)
    assert [o.app for o in stored] == ["Mousepad"]
    exported = store.export()
    assert [r["reason"] for r in exported["unrecorded"]] == ["excluded"]
    assert "bank PIN" not in json.dumps(exported, default=str) and "KeePass" not in json.dumps(exported, default=str)


# -- GET /v1/timeline --------------------------------------------------------------------------------------


def test_the_timeline_endpoint_shows_apps_times_and_ids_to_propositions_read_and_titles_only_with_observations_read(
        evening_here, server, store):
    from gum.api import tokens

    today = local_day(datetime.now(UTC))
    s = seed_day(store, today)
    reader, _ = tokens.create_token(store, "chart-plugin", ["propositions:read"])
    seer, _ = tokens.create_token(store, "assistant", ["propositions:read", "observations:read"])
    blind, _ = tokens.create_token(store, "screen-only", ["observations:read"])

    def get(secret, query=f"?day={today}"):
        return httpx.get(server.url + "/v1/timeline" + query, headers={"Authorization": f"Bearer {secret}"},
                         trust_env=False)

    r = get(reader)
    assert r.status_code == 200
    body = r.json()
    assert body["day"] == today.isoformat() and body["titles_withheld"] is True
    blocks = {b["id"]: b for lane in body["lanes"] for b in lane["blocks"]}
    careers = blocks[s.segments[0]]
    assert careers["app"] == "firefox" and careers["propositions"] == [s.props["job"]]
    assert careers["title"] is None and careers["excerpt"] is None
    assert all(t["activities"] == [] for t in body["totals"] + body["week"])
    assert "Stripe careers" not in r.text and "Dublin" not in r.text and "cover-letter" not in r.text
    assert {g["kind"] for g in body["gaps"]} == {"idle", "paused", "excluded"}
    revoked = next(e for e in body["learned"] if e["action"] == "revoked")
    assert revoked["text"] is None and "secret side project" not in r.text

    full = get(seer).json()
    assert full["titles_withheld"] is False
    shown = {b["id"]: b for lane in full["lanes"] for b in lane["blocks"]}
    assert shown[s.segments[0]]["title"] == "Stripe careers - Mozilla Firefox"
    assert "Dublin" in shown[s.segments[0]]["excerpt"]

    assert get(blind).status_code == 403 and "propositions:read" in get(blind).json()["error"]
    assert get("gum_nope").status_code == 401
    assert get(seer, "?day=2026-02-30").status_code == 400
    assert get(seer, "?day=yesterday").status_code == 400
    assert get(seer, "?day=9999-12-31").json()["lanes"] == []
    assert get(seer, "").json()["day"] == today.isoformat()


def test_the_client_and_the_cli_print_the_same_day(evening_here, server, store, agent):
    from gum.api import tokens
    from gum.api.client import Client
    from gum.cli import main

    today = local_day(datetime.now(UTC))
    s = seed_day(store, today)
    secret, _ = tokens.create_token(store, "tray-like", ["propositions:read", "observations:read"])
    via_api = Client(server.url, secret).timeline(today.isoformat())
    out = CliRunner().invoke(main, ["timeline", "--day", today.isoformat(), "--json"])
    assert out.exit_code == 0, out.output
    printed = json.loads(out.output)
    assert printed["lanes"] == via_api["lanes"] and printed["totals"] == via_api["totals"]

    text = CliRunner().invoke(main, ["today"])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert "not recorded (paused)" in text.output and "not recorded (excluded window)" in text.output
    assert any("idle or away" in line for line in lines)
    assert any(line.lstrip().startswith("firefox") and "1 h 20 min" in line for line in lines), text.output
    assert f"created #{s.props['job']} Priya is applying" in text.output
    assert "secret side project" not in text.output
    assert CliRunner().invoke(main, ["timeline", "--day", "12/01"]).exit_code == 1
