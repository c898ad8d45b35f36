"""The tray app on real widgets (offscreen) against a real agent (`gum start`) on loopback."""

from __future__ import annotations

import sys
from datetime import timedelta

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from ui_helpers import RunningAgent, free_port, seed

from gum.errors import NotFound
from gum.store import Store

WAIT = 15_000


@pytest.fixture
def seeded(gum_dirs):
    return seed(gum_dirs)


@pytest.fixture
def agent(seeded, gum_dirs, tmp_path, qtbot):
    a = RunningAgent(gum_dirs, tmp_path / "agent.log")
    try:
        qtbot.waitUntil(a.healthy, timeout=WAIT)
        yield a
    finally:
        a.stop()


@pytest.fixture
def api(agent, qtbot):
    from gum.ui.api import Api

    api = Api(agent.url, agent.token)
    yield api
    qtbot.waitUntil(lambda: api.in_flight() == 0, timeout=WAIT)


@pytest.fixture
def window(api, qtbot):
    from gum.ui.views.memory_window import MemoryWindow

    w = MemoryWindow(api)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.loaded, timeout=WAIT):
        w.show()
    return w


def texts(w) -> list[str]:
    """The proposition texts as the table shows them, top to bottom."""
    from gum.ui.views.proposition_model import TEXT

    return [w.proxy.index(r, TEXT).data() for r in range(w.proxy.rowCount())]


def select(w, qtbot, prop_id: int) -> None:
    with qtbot.waitSignal(w.detail_loaded, timeout=WAIT, check_params_cb=lambda i: i == prop_id):
        assert w.select(prop_id)


# -- the list --------------------------------------------------------------------------------------------


def test_memory_window_lists_active_propositions_with_confidence_durability_age_and_evidence(window, seeded):
    from gum.ui.views.proposition_model import AGE, CONFIDENCE, DECAY, EVIDENCE, MARK

    shown = texts(window)
    assert len(shown) == 5
    assert "Priya uses Neovim as her editor" in shown
    assert "Priya uses Vim" not in shown  # the superseded version lives in history only
    row = shown.index("Priya is learning the Rust programming language")
    cell = lambda col: window.proxy.index(row, col).data()
    assert cell(CONFIDENCE) == 8
    assert cell(DECAY) == "7/10"
    assert cell(AGE) == "1h"
    assert cell(EVIDENCE) == 2
    # Changed since the user last looked (first time: the last day) is marked; the 20-day-old one is not.
    assert cell(MARK) == "new"
    assert window.proxy.index(shown.index("Priya uses Neovim as her editor"), MARK).data() == "revised"
    assert window.proxy.index(shown.index("Priya trains for a trail running race"), MARK).data() == ""


def test_search_asks_the_agent_and_lists_only_matching_propositions(window, qtbot):
    with qtbot.waitSignal(window.loaded, timeout=WAIT):
        window.search.setText("rust programming")
    assert texts(window) == ["Priya is learning the Rust programming language"]
    with qtbot.waitSignal(window.loaded, timeout=WAIT):
        window.search.clear()
    assert len(texts(window)) == 5


def test_filters_by_confidence_and_time_and_sorting_by_confidence(window):
    window.min_confidence.setValue(6)
    assert sorted(texts(window)) == ["Priya is learning the Rust programming language",
                                     "Priya uses Neovim as her editor", "Priya works on a project called tracer"]
    window.min_confidence.setValue(1)
    window.time_filter.setCurrentIndex(2)  # last 7 days
    assert "Priya trains for a trail running race" not in texts(window)
    assert len(texts(window)) == 4
    window.time_filter.setCurrentIndex(0)
    from gum.ui.views.proposition_model import CONFIDENCE
    from PySide6.QtCore import Qt

    window.table.sortByColumn(CONFIDENCE, Qt.DescendingOrder)
    confidences = [window.proxy.index(r, CONFIDENCE).data() for r in range(window.proxy.rowCount())]
    assert confidences == [8, 7, 6, 4, 2]


# -- the detail pane -------------------------------------------------------------------------------------


def test_detail_shows_reasoning_evidence_with_thumbnail_and_revision_history(window, seeded, qtbot):
    select(window, qtbot, seeded.ids["rust"])
    d = window.detail
    assert "ownership chapter" in d.reasoning.text()
    assert d.evidence.topLevelItemCount() == 2
    first = d.evidence.topLevelItem(0)
    assert first.text(1) == "firefox"
    assert first.text(2) == "The Rust Book - Firefox"
    assert "Understanding Ownership" in first.text(3)
    assert not first.icon(3).isNull()  # the kept screenshot, as a thumbnail
    assert d.evidence.topLevelItem(1).icon(3).isNull()  # no screenshot kept for this one

    select(window, qtbot, seeded.ids["editor"])
    history = [(d.history.topLevelItem(i).text(0), d.history.topLevelItem(i).text(3))
               for i in range(d.history.topLevelItemCount())]
    assert history == [("v1", "Priya uses Vim"), ("v2", "Priya uses Neovim as her editor")]
    assert "version 2" in d.meta.text()


# -- actions ---------------------------------------------------------------------------------------------


def test_confirm_is_stored_by_the_agent_and_shows_in_the_calibration_plot(window, seeded, qtbot):
    pid = seeded.ids["rust"]
    select(window, qtbot, pid)
    with qtbot.waitSignal(window.calibration_loaded, timeout=WAIT,
                          check_params_cb=lambda levels: any(lv["confirmed"] for lv in levels)), \
            qtbot.waitSignal(window.action_done, timeout=WAIT):
        window.detail.confirm_button.click()
    assert Store().get(pid).feedback == "confirmed"
    assert window.detail.confirm_button.text() == "Confirmed ✓"
    assert window.calibration.plot.data == {8: (1.0, 1)}
    assert window.undo_button.isEnabled() and "confirm" in window.undo_button.text()


def test_undo_of_confirm_clears_the_feedback(window, seeded, qtbot):
    pid = seeded.ids["tracer"]
    select(window, qtbot, pid)
    with qtbot.waitSignal(window.action_done, timeout=WAIT):
        window.detail.confirm_button.click()
    with qtbot.waitSignal(window.undone, timeout=WAIT):
        window.undo_button.click()
    assert Store().get(pid).feedback is None


def test_reject_hides_the_proposition_and_the_agent_stores_it_as_rejected(window, seeded, agent, qtbot):
    pid = seeded.ids["coffee"]
    select(window, qtbot, pid)
    with qtbot.waitSignal(window.action_done, timeout=WAIT):
        window.detail.reject_button.click()
    assert "Priya drinks a lot of coffee" not in texts(window)
    assert Store().get(pid).status == "rejected"
    assert all(p["id"] != pid for p in agent.client().recent(limit=100))
    assert window.detail.prop is None  # the pane no longer shows what is gone


def test_edit_writes_a_new_version_marked_edited_and_undo_restores_the_wording(window, seeded, qtbot):
    pid = seeded.ids["tracer"]
    select(window, qtbot, pid)
    window.detail.edit_button.click()
    assert window.detail.editor.isVisible()
    window.detail.edit_text.setPlainText("Priya maintains the open-source profiler tracer")
    window.detail.edit_confidence.setValue(9)
    with qtbot.waitSignal(window.action_done, timeout=WAIT) as done:
        window.detail.edit_save.click()
    new = done.args[1]
    assert new["id"] != pid and new["edited"] and new["version"] == 2
    stored = Store().get(new["id"])
    assert (stored.text, stored.confidence, stored.edited) == ("Priya maintains the open-source profiler tracer",
                                                                9, True)
    assert "Priya maintains the open-source profiler tracer" in texts(window)
    assert "Priya works on a project called tracer" not in texts(window)

    with qtbot.waitSignal(window.undone, timeout=WAIT):
        window.undo_button.click()
    current = Store().current(pid)
    assert (current.text, current.confidence) == ("Priya works on a project called tracer", 6)
    assert "Priya works on a project called tracer" in texts(window)


def test_revoke_asks_inline_then_forgets_with_evidence_and_offers_no_undo(window, seeded, agent, qtbot):
    pid = seeded.ids["running"]
    select(window, qtbot, pid)
    window.detail.revoke_button.click()
    assert window.detail.revoker.isVisible()  # asked in place first: revoking cannot be undone
    window.detail.revoke_evidence.setChecked(True)
    with qtbot.waitSignal(window.action_done, timeout=WAIT):
        window.detail.revoke_go.click()
    assert "Priya trains for a trail running race" not in texts(window)
    assert Store().get(pid).status == "revoked"
    with pytest.raises(NotFound):
        Store().get_observation(seeded.observations["running"])  # its evidence is gone too
    assert not window.undo_button.isEnabled()
    assert all(p["id"] != pid for p in agent.client().query("trail running"))


def test_add_by_hand_appears_at_once_and_undo_revokes_it(window, qtbot):
    window.add_button.click()
    window.add_text.setText("Priya is allergic to peanuts")
    window.add_confidence.setValue(10)
    with qtbot.waitSignal(window.action_done, timeout=WAIT) as done:
        window.add_go.click()
    added = done.args[1]
    assert added["source"] == "user"
    assert texts(window)[0] == "Priya is allergic to peanuts"
    assert window.selected()["id"] == added["id"]
    with qtbot.waitSignal(window.undone, timeout=WAIT):
        window.undo_button.click()
    assert "Priya is allergic to peanuts" not in texts(window)
    assert Store().get(added["id"]).status == "revoked"


def test_closing_the_window_drops_the_undo_history(window, seeded, qtbot):
    select(window, qtbot, seeded.ids["rust"])
    with qtbot.waitSignal(window.action_done, timeout=WAIT):
        window.detail.confirm_button.click()
    assert window.undo_stack
    window.close()
    assert not window.undo_stack and not window.undo_button.isEnabled()


# -- settings --------------------------------------------------------------------------------------------


@pytest.fixture
def settings_dialog(api, qtbot):
    from gum.ui.views.settings_dialog import SettingsDialog

    d = SettingsDialog(api, data_dir="/tmp/somewhere")
    qtbot.addWidget(d)
    with qtbot.waitSignal(d.loaded, timeout=WAIT), qtbot.waitSignal(d.tokens_loaded, timeout=WAIT):
        d.load()
        d.show()
    return d


def test_settings_shows_the_agents_settings_and_saves_changes_to_config_toml(settings_dialog, qtbot):
    from gum.config import config_path, load_settings

    d = settings_dialog
    assert d.model_embedded.isChecked()
    assert not any(b.isChecked() for b in d.observer_boxes.values())  # the agent runs with GUM_OBSERVERS=none
    d.model_server.setChecked(True)
    d.server_url.setText("http://127.0.0.1:8080/v1")
    d.exclusions.setPlainText("KeePassXC\nBank of Example")
    d.redactions.setPlainText(r"ACCT-\d{6}")
    d.keep_screenshots.setChecked(True)
    d.screenshot_age.setValue(3)
    with qtbot.waitSignal(d.restart_requested, timeout=WAIT), qtbot.waitSignal(d.saved, timeout=WAIT):
        d.save_button.click()
    text = config_path().read_text()
    assert "http://127.0.0.1:8080/v1" in text
    s = load_settings()
    assert s.model == "http://127.0.0.1:8080/v1"
    assert "KeePassXC" in s.exclude_windows and "Bank of Example" in s.exclude_windows
    assert s.redact_patterns == [r"ACCT-\d{6}"]
    assert s.keep_screenshots is True and s.screenshot_max_age_days == 3


def test_settings_refuses_a_bad_redaction_pattern_and_saves_nothing(settings_dialog, qtbot):
    from gum.config import config_path

    before = config_path().read_text() if config_path().exists() else ""
    settings_dialog.redactions.setPlainText("([unclosed")
    with qtbot.waitSignal(settings_dialog.failed, timeout=WAIT) as blocker:
        settings_dialog.save_button.click()
    assert "not a valid regular expression" in blocker.args[1]
    assert (config_path().read_text() if config_path().exists() else "") == before


def test_settings_creates_a_token_shown_once_lists_it_and_revokes_it(settings_dialog, agent, qtbot):
    from gum.api.client import ApiError, Client

    d = settings_dialog
    d.tabs.setCurrentIndex(3)
    d.token_name.setText("my-assistant")
    d.scope_boxes["feedback:write"].setChecked(True)
    with qtbot.waitSignal(d.tokens_loaded, timeout=WAIT), qtbot.waitSignal(d.token_created, timeout=WAIT):
        d.token_create.click()
    secret = d.token_secret.text()
    assert secret
    names = [d.token_table.item(r, 0).text() for r in range(d.token_table.rowCount())]
    assert "my-assistant" in names and "tray" in names
    row = names.index("my-assistant")
    assert d.token_table.item(row, 1).text() == "propositions:read, feedback:write"
    with Client(agent.url, secret) as c:
        assert c.recent(limit=1)  # the new token works

    d.token_table.selectRow(row)
    with qtbot.waitSignal(d.tokens_loaded, timeout=WAIT), qtbot.waitSignal(d.token_revoked, timeout=WAIT):
        d.token_revoke.click()
    with Client(agent.url, secret) as c, pytest.raises(ApiError) as err:
        c.recent(limit=1)
    assert err.value.status == 401


# -- the application: supervisor, state, no tray ---------------------------------------------------------


@pytest.fixture
def gum_app(seeded, qtbot, monkeypatch):
    from gum.ui.application import GumApp

    monkeypatch.setenv("GUM_OBSERVERS", "none")
    app = GumApp(port=free_port(), poll_ms=300, use_tray=False, exit_on_quit=False)
    yield app
    if app.supervisor and app.supervisor.is_running():
        app.supervisor.stop_and_wait()
    if app.memory is not None:
        app.memory.close()


def test_without_a_tray_the_app_runs_the_agent_and_opens_the_memory_window(gum_app, qtbot):
    with qtbot.waitSignal(gum_app.state_changed, timeout=WAIT, check_params_cb=lambda s, r: s == "idle"):
        gum_app.start()
    assert gum_app.memory is not None and gum_app.memory.isVisible()
    assert "no system tray" in gum_app.memory.notice.text()
    assert gum_app.supervisor.state == "running"
    qtbot.waitUntil(lambda: len(texts(gum_app.memory)) == 5, timeout=WAIT)
    assert "gum is running but not observing" in gum_app.memory.agent_label.text()


def test_pause_and_resume_reach_the_agent_and_change_the_state(gum_app, qtbot):
    with qtbot.waitSignal(gum_app.state_changed, timeout=WAIT, check_params_cb=lambda s, r: s == "idle"):
        gum_app.start()
    with qtbot.waitSignal(gum_app.state_changed, timeout=WAIT, check_params_cb=lambda s, r: s == "paused"):
        gum_app.pause(15 * 60)
    assert gum_app.status["paused"] and gum_app.status["paused_until"]
    assert gum_app.state_text().startswith("gum is paused until ")
    from gum.ui.tray_menu import TrayMenu

    menu = TrayMenu(gum_app)
    labels = [a.text() for a in menu.actions()]
    assert "Resume observing" in labels and "Quit gum" in labels
    with qtbot.waitSignal(gum_app.state_changed, timeout=WAIT, check_params_cb=lambda s, r: s == "idle"):
        gum_app.resume()
    with qtbot.waitSignal(gum_app.state_changed, timeout=WAIT, check_params_cb=lambda s, r: s == "paused"):
        gum_app.pause(None)
    assert gum_app.state_text() == "gum is paused until you resume"


def test_quit_stops_the_agent_cleanly(gum_app, qtbot):
    with qtbot.waitSignal(gum_app.state_changed, timeout=WAIT, check_params_cb=lambda s, r: s == "idle"):
        gum_app.start()
    proc = gum_app.supervisor.proc
    with qtbot.waitSignal(gum_app.finished, timeout=30_000):
        gum_app.quit()
    assert proc.exitCode() == 0
    assert any("gum agent stopped" in line for line in gum_app.supervisor.lines)


def test_delete_everything_empties_the_data_folder_and_starts_a_fresh_agent(gum_app, gum_dirs, seeded, qtbot):
    with qtbot.waitSignal(gum_app.state_changed, timeout=WAIT, check_params_cb=lambda s, r: s == "idle"):
        gum_app.start()
    assert seeded.screenshot.exists()
    from gum.ui import logfile

    logfile.log_path().write_text("an old tray log line\n")
    with qtbot.waitSignal(gum_app.data_deleted, timeout=30_000):
        gum_app.delete_everything()
    assert not seeded.screenshot.exists()
    assert not logfile.log_path().exists() or "an old tray log line" not in logfile.log_path().read_text()
    qtbot.waitUntil(lambda: gum_app.status.get("counts", {}).get("observations") == 0, timeout=WAIT)
    assert gum_app.status["counts"]["propositions"] == {}


def test_a_crashing_agent_is_restarted_three_times_then_the_user_sees_its_last_lines(qtbot):
    from gum.ui.supervisor import AgentSupervisor

    crash = [sys.executable, "-c", "import sys; print('cannot open the database: disk full'); sys.exit(3)"]
    sup = AgentSupervisor("t", port=free_port(), command=crash, restart_delay_ms=10)
    crashes = []
    sup.crashed.connect(lambda code, tail: crashes.append(code))
    with qtbot.waitSignal(sup.gave_up, timeout=WAIT) as blocker:
        sup.start()
    assert sup.starts == 4  # the first start and three restarts
    assert crashes == [3, 3, 3, 3]
    assert "disk full" in blocker.args[0]


def test_a_killed_agent_is_restarted_and_answers_again(seeded, qtbot, monkeypatch):
    import os
    import signal

    from gum.ui.application import GumApp

    monkeypatch.setenv("GUM_OBSERVERS", "none")
    app = GumApp(port=free_port(), poll_ms=300, use_tray=False, exit_on_quit=False)
    app.supervisor.restart_delay_ms = 10
    try:
        with qtbot.waitSignal(app.state_changed, timeout=WAIT, check_params_cb=lambda s, r: s == "idle"):
            app.start()
        first = app.supervisor.pid()
        with qtbot.waitSignal(app.supervisor.crashed, timeout=WAIT):
            os.kill(first, signal.SIGKILL)
        qtbot.waitUntil(lambda: app.supervisor.state == "running" and app.state == "idle", timeout=WAIT)
        assert app.supervisor.pid() not in (None, first)
    finally:
        app.supervisor.stop_and_wait()
        app.memory.close()


# -- small parts -----------------------------------------------------------------------------------------


def test_the_state_is_error_with_the_reason_when_an_observer_or_the_model_fails():
    from gum.ui.application import summarize

    assert summarize({"state": "observing", "observers": {"screen": {"ok": True}}}) == ("observing", "")
    state, reason = summarize({"state": "observing",
                               "observers": {"screen": {"ok": False, "detail": "cannot grab the screen"}}})
    assert state == "error" and "screen: cannot grab the screen" in reason
    # A model that fails is an error; one odd observation set aside earlier is history, not a current error.
    assert summarize({"state": "error", "model_health": {"ok": False, "detail": "cannot load the model"}}) == (
        "error", "model: cannot load the model")
    assert summarize({"state": "working", "last_error": "observation #3: malformed output"}) == ("working", "")


def test_an_agent_with_no_observer_running_is_not_shown_as_observing():
    from gum.agent import Agent
    from gum.config import Settings
    from gum.ui.application import STATE_TEXT, summarize

    status = Agent(Settings(observers=[]), observers=[], serve_api=False).status()
    assert status["state"] == "idle"
    assert summarize(status)[0] == "idle" and "not observing" in STATE_TEXT["idle"]


def test_the_tray_says_how_much_waits_for_the_model_and_when_it_will_be_done():
    from gum.ui.application import backlog_text

    assert backlog_text({"queue": {"pending": 0}}) == ""
    assert backlog_text({"queue": {"pending": 3, "eta_seconds": 290}}) == (
        "3 activities waiting for the model, done in about 5 min")
    assert "wait for a pause" in backlog_text({"queue": {"pending": 1, "waiting_for": "budget"}})


def test_start_at_login_writes_and_removes_an_xdg_autostart_entry(tmp_path, monkeypatch):
    from gum.ui import autostart

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    path = autostart.set_enabled(True, platform="linux")
    assert path == tmp_path / "xdg" / "autostart" / "gum.desktop"
    text = path.read_text()
    assert "[Desktop Entry]" in text and "-m gum.cli ui" in text and "{exec}" not in text
    assert autostart.is_enabled("linux")
    autostart.set_enabled(False, platform="linux")
    assert not path.exists() and not autostart.is_enabled("linux")
    assert "<key>RunAtLoad</key>" in autostart.entry_text("darwin")


def test_only_one_tray_app_runs_and_a_second_start_shows_the_first(qtbot):
    from gum.ui.single_instance import SingleInstance

    first, second = SingleInstance(), SingleInstance()
    try:
        assert first.acquire()
        with qtbot.waitSignal(first.activated, timeout=WAIT):
            assert not second.acquire()
    finally:
        first.release()
    assert second.acquire()
    second.release()


def test_calibration_share_confirmed_per_level():
    from gum.ui.views.calibration import shares

    assert shares([{"confidence": 8, "confirmed": 3, "rejected": 1}, {"confidence": 2, "confirmed": 0,
                                                                       "rejected": 0}]) == {8: (0.75, 4)}


def test_age_text_reads_like_a_person_would_say_it():
    from datetime import datetime, timezone

    from gum.ui.views.proposition_model import age_text

    now = datetime(2026, 1, 10, tzinfo=timezone.utc)
    assert age_text(now - timedelta(seconds=5), now) == "now"
    assert age_text(now - timedelta(hours=5), now) == "5h"
    assert age_text(now - timedelta(days=3, hours=2), now) == "3d"


def test_after_too_many_crashes_the_app_shows_the_agents_last_lines_in_a_dialog(seeded, qtbot):
    from gum.ui.application import GumApp
    from PySide6.QtWidgets import QMessageBox

    script = "import sys; print('model file is corrupt: re-run gum model install'); sys.exit(1)"
    crash = [sys.executable, "-c", script]
    app = GumApp(port=free_port(), agent_command=crash, use_tray=False, exit_on_quit=False, poll_ms=60_000)
    app.supervisor.restart_delay_ms = 10
    with qtbot.waitSignal(app.agent_gave_up, timeout=WAIT):
        app.start()
    box = app._dialogs[-1]
    assert isinstance(box, QMessageBox) and box.isVisible() and not box.isModal()
    assert "re-run gum model install" in box.detailedText()
    assert app.state == "error" and "keeps crashing" in app.reason
    box.close()
    app.memory.close()


def test_an_uncaught_exception_is_logged_and_shown_without_blocking(qtbot, caplog):
    from gum.ui import excepthook
    from PySide6.QtWidgets import QApplication, QMessageBox

    try:
        raise ValueError("a bug in a slot")
    except ValueError:
        excepthook.excepthook(*sys.exc_info())
    assert "a bug in a slot" in caplog.text
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
    assert any("a bug in a slot" in b.text() for b in boxes)
    for b in boxes:
        b.close()


def test_the_tray_menu_lists_recent_propositions_and_opens_them_in_the_memory_window(gum_app, seeded, qtbot):
    from gum.ui.tray_menu import TrayMenu

    with qtbot.waitSignal(gum_app.recent_changed, timeout=WAIT):
        gum_app.start()
    menu = TrayMenu(gum_app)
    recent = next(a.menu() for a in menu.actions() if a.text() == "Recent propositions")
    items = [a for a in recent.actions() if "Rust" in a.text()]
    assert items and "[8/10]" in items[0].text()
    with qtbot.waitSignal(gum_app.memory.detail_loaded, timeout=WAIT,
                          check_params_cb=lambda i: i == seeded.ids["rust"]):
        items[0].trigger()
    assert gum_app.memory.selected()["id"] == seeded.ids["rust"]


def test_a_new_data_folder_restarts_the_agent_there_and_is_remembered(gum_app, tmp_path, qtbot):
    from gum.ui import prefs

    with qtbot.waitSignal(gum_app.state_changed, timeout=WAIT, check_params_cb=lambda s, r: s == "idle"):
        gum_app.start()
    assert gum_app.status["counts"]["observations"] == 3
    first = gum_app.supervisor.pid()
    elsewhere = tmp_path / "elsewhere"
    gum_app.set_data_dir(str(elsewhere))
    qtbot.waitUntil(lambda: gum_app.supervisor.pid() not in (None, first)
                    and gum_app.status.get("counts", {}).get("observations") == 0, timeout=WAIT)
    assert (elsewhere / "gum.db").exists()
    assert prefs.get("data_dir") == str(elsewhere)
