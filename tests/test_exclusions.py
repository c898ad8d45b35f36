"""What the screen observer must never read: excluded windows (also when they appear mid-grab), gum's own
windows, and kept screenshots of frames that held a secret. A fake desktop and grabber, no display."""

from __future__ import annotations

import os

import numpy as np
import pytest
from gum.observers.activity import WindowInfo
from gum.observers.desktop import Desktop
from gum.observers.screen import Screen

from gum.privacy import Exclusions

W, H = 640, 480


class Shot:
    def __init__(self, value=200):
        self.width, self.height = W, H
        self.bgra = np.full((H, W, 4), value, dtype=np.uint8).tobytes()


class Grabber:
    def __init__(self, on_grab=None):
        self.monitors = [{"left": 0, "top": 0, "width": W, "height": H}] * 2  # mss: [all, monitor 1]
        self.on_grab = on_grab
        self.grabs = 0

    def grab(self, mon):
        self.grabs += 1
        if self.on_grab:
            self.on_grab()
        return Shot(value=100 + self.grabs)

    def close(self):
        pass


class ScriptedDesktop(Desktop):
    """windows() answers from a list that tests change between calls."""

    def __init__(self):
        self.current: list[WindowInfo] = [WindowInfo(app="Mousepad", title="notes", rect=(0, 0, 300, 300), wid=1)]
        self.calls = 0

    def active_window(self):
        return self.current[0]

    def windows(self):
        self.calls += 1
        return list(self.current)


class Keeper:
    def __init__(self):
        self.saved = 0

    def save(self, image):
        self.saved += 1
        return f"/kept/{self.saved}.png.gumenc"


def screen_with(desktop, grabber, ocr_text="ordinary notes about tomatoes", keeper=None):
    read = []

    def ocr(image):
        read.append(image.size)
        return ocr_text

    screen = Screen(min_gap=0, desktop_factory=lambda: desktop, ocr=ocr, keeper=keeper)
    screen.desktop = desktop
    screen._sct = grabber
    emitted = []
    screen.attach(emitted.append, paused=lambda: False, activity=screen.activity)
    return screen, read, emitted


VAULT = WindowInfo(app="KeePassXC", title="Passwords.kdbx", rect=(320, 0, 300, 300), wid=7)


def test_a_password_manager_opened_during_the_grab_drops_the_frame_unread():
    desktop = ScriptedDesktop()
    screen, read, emitted = screen_with(desktop, Grabber(on_grab=lambda: desktop.current.append(VAULT)))
    assert screen.capture("click") == []
    assert read == [] and emitted == []
    assert screen.stats.raced == 1


def test_a_password_manager_moved_during_the_grab_drops_the_frame():
    desktop = ScriptedDesktop()
    desktop.current.append(VAULT)
    moved = WindowInfo(app=VAULT.app, title=VAULT.title, rect=(0, 0, 300, 300), wid=VAULT.wid)
    screen, read, _ = screen_with(desktop, Grabber(on_grab=lambda: desktop.current.__setitem__(1, moved)))
    assert screen.capture("click") == []
    assert read == [] and screen.stats.raced == 1


def test_a_password_manager_that_stays_put_is_blanked_and_the_rest_is_read():
    desktop = ScriptedDesktop()
    desktop.current.append(VAULT)
    screen, _, _ = screen_with(desktop, Grabber())
    [obs] = screen.capture("click")
    assert "tomatoes" in obs.text and screen.stats.raced == 0 and screen.stats.blanked == 1
    assert desktop.calls >= 3, "listed before the capture, and before and after the grab"


def test_gums_own_windows_are_excluded_by_process_whatever_their_title(monkeypatch):
    monkeypatch.setenv("GUM_TRAY_PID", "4242")
    ex = Exclusions()
    assert ex.window(WindowInfo(app="python3", title="Memory", pid=4242))
    assert ex.window(WindowInfo(app="python3", title="Settings", pid=os.getpid()))
    assert not ex.window(WindowInfo(app="python3", title="Settings", pid=1))
    desktop = ScriptedDesktop()
    desktop.current = [WindowInfo(app="gum", title="gum — Settings", rect=(0, 0, 300, 300), wid=3, pid=4242)]
    screen = Screen(min_gap=0, desktop_factory=lambda: desktop, ocr=lambda image: "new token gum_x")
    screen.desktop, screen._sct = desktop, Grabber()
    screen.attach(lambda obs: None, paused=lambda: False, activity=screen.activity)
    assert screen.capture("click") == [] and screen.stats.excluded == 1


@pytest.mark.parametrize("app,title", [
    ("kwalletmanager5", "KDE Wallet Manager"), ("KWalletd5", ""), ("org.gnome.World.Secrets", "Secrets"),
    ("gnome-secrets", "Passwords.kdbx"), ("seahorse", "Passwords and Keys"), ("QtPass", "QtPass"),
    ("pinentry-gtk-2", "Passphrase"), ("polkit-gnome-authentication-agent-1", "Authenticate"),
    ("gcr-prompter", "Unlock Keyring"), ("", "Authentication Required"), ("ssh-askpass", "OpenSSH"),
])
def test_keyrings_pass_pinentry_and_authentication_dialogs_are_excluded_by_default(app, title):
    assert Exclusions().matches(app, title)


def test_a_frame_whose_text_holds_a_secret_is_not_kept_as_a_screenshot():
    keeper = Keeper()
    screen, _, _ = screen_with(ScriptedDesktop(), Grabber(), keeper=keeper,
                                     ocr_text="export GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789")
    [obs] = screen.capture("click")
    assert obs.image_path is None and keeper.saved == 0 and screen.stats.not_kept == 1
    clean, _, _ = screen_with(ScriptedDesktop(), Grabber(), keeper=keeper)
    [obs] = clean.capture("click")
    assert obs.image_path and keeper.saved == 1
