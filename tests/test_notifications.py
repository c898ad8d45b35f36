"""The notifications observer on a real, private session bus: `dbus-daemon --session` started here, a small
notification daemon owning org.freedesktop.Notifications, and Debian's `notify-send` sending real
notifications. The observer only monitors; it survives the bus going away and coming back."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
import time

import pytest
from gum.observers.notifications import Notifications

pytestmark = pytest.mark.skipif(not (shutil.which("dbus-daemon") and shutil.which("notify-send")),
                                reason="needs dbus-daemon and notify-send (Debian dbus, libnotify-bin)")


class Bus:
    """A private session bus at a fixed socket path, so it can be stopped and started again at one address."""

    def __init__(self, folder):
        self.socket = folder / "bus"
        self.address = f"unix:path={self.socket}"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile",
                                      f"--address={self.address}"], stdout=subprocess.DEVNULL)
        wait_for(self.socket.exists)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
            self.proc = None
        self.socket.unlink(missing_ok=True)


class Daemon(threading.Thread):
    """A minimal notification daemon: answers Notify with an id; the test makes it say the user clicked or
    dismissed one (as a real daemon does when the user does)."""

    def __init__(self, address):
        super().__init__(daemon=True)
        self.address = address
        self.signals: queue.Queue = queue.Queue()
        self.ids = []
        self.ready = threading.Event()
        self.done = threading.Event()

    def run(self):
        from jeepney import DBusAddress, MessageType, new_method_return, new_signal
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import open_dbus_connection

        conn = open_dbus_connection(bus=self.address)
        conn.send_and_get_reply(message_bus.RequestName("org.freedesktop.Notifications"), timeout=5)
        me = DBusAddress("/org/freedesktop/Notifications", interface="org.freedesktop.Notifications")
        self.ready.set()
        replies = {"GetCapabilities": ("as", (["body", "actions"],)),
                   "GetServerInformation": ("ssss", ("test-daemon", "gum", "1", "1.2"))}
        try:
            while not self.done.is_set():
                while not self.signals.empty():
                    member, sig, body = self.signals.get()
                    conn.send(new_signal(me, member, sig, body))
                try:
                    msg = conn.receive(timeout=0.05)
                except TimeoutError:
                    continue
                if msg.header.message_type != MessageType.method_call:
                    continue
                member = msg.header.fields.get(3)  # HeaderFields.member
                if member == "Notify":
                    self.ids.append(len(self.ids) + 1)
                    conn.send(new_method_return(msg, "u", (self.ids[-1],)))
                elif member in replies:
                    conn.send(new_method_return(msg, *replies[member]))
                else:
                    conn.send(new_method_return(msg))
        except (ConnectionError, OSError):
            pass
        finally:
            conn.close()

    def click(self, nid):
        self.signals.put(("ActionInvoked", "us", (nid, "default")))
        self.signals.put(("NotificationClosed", "uu", (nid, 2)))

    def dismiss(self, nid):
        self.signals.put(("NotificationClosed", "uu", (nid, 2)))


def wait_for(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {cond}")


def notify(bus, *args):
    env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": bus.address}
    subprocess.run(["notify-send", *args], env=env, check=True, timeout=10)


@pytest.fixture
def bus(tmp_path):
    b = Bus(tmp_path)
    b.start()
    yield b
    b.stop()


def start_daemon(bus):
    d = Daemon(bus.address)
    d.start()
    d.ready.wait(5)
    return d


def watch(bus, **kw):
    out = []
    obs = Notifications(bus_address=bus.address, reconnect_seconds=0.2, **kw)
    obs.attach(out.append)
    obs.start()
    wait_for(lambda: obs.health()["detail"] == "watching notifications")
    return obs, out


def test_a_notification_is_stored_with_app_and_summary_and_what_the_user_did(bus):
    daemon = start_daemon(bus)
    obs, out = watch(bus, settle_seconds=30)
    try:
        notify(bus, "-a", "Slack", "Ana Ruiz: are we still on for the billing review?",
               "Also my code is 339 210, and card 4111 1111 1111 1111")
        wait_for(lambda: daemon.ids)
        daemon.click(daemon.ids[0])
        wait_for(lambda: out)
        (n,) = out
        assert n.text.splitlines() == ["Notification from Slack: Ana Ruiz: are we still on for the billing review?",
                                       "(body not recorded)", "What the user did: clicked"]
        assert n.observer == "notifications" and n.app == "Slack"
        assert n.meta["kind"] == "notification" and n.meta["engagement"]["clicks"] == 1
        assert "339" not in repr(n) and "4111" not in repr(n)
    finally:
        obs.stop()
        daemon.done.set()


def test_the_body_only_on_opt_in_and_then_redacted_by_the_agent(bus, store):
    from gum.agent import Agent
    from gum.config import Settings

    daemon = start_daemon(bus)
    agent = Agent(Settings(observers=[]), observers=[], serve_api=False)
    obs = Notifications(bus_address=bus.address, include_body=True, settle_seconds=0.2, reconnect_seconds=0.2)
    obs.attach(agent.emit, paused=agent.is_paused)
    obs.start()
    try:
        wait_for(lambda: obs.health()["detail"] == "watching notifications")
        notify(bus, "-a", "Bank", "Card payment", "Paid 42.00 with card 4111 1111 1111 1111")
        wait_for(lambda: store.observations(limit=5))
        (row,) = store.observations(limit=5)
        assert "Paid 42.00 with card [REDACTED:card]" in row.text
        assert "What the user did: no response seen" in row.text  # settled without an answer from the user
        assert "4111" not in row.text
    finally:
        obs.stop()
        daemon.done.set()


def test_dismissed_and_excluded_and_paused(bus):
    daemon = start_daemon(bus)
    paused = threading.Event()
    obs, out = watch(bus, settle_seconds=30, exclude_apps=["Signal"])
    obs.paused = paused.is_set
    try:
        notify(bus, "-a", "Signal", "Mum", "call me")
        notify(bus, "-a", "KeePassXC", "Database unlocked")  # a password manager: a window exclusion
        notify(bus, "-a", "Thunderbird", "Invoice overdue")
        wait_for(lambda: daemon.ids)
        daemon.dismiss(daemon.ids[-1])
        wait_for(lambda: out)
        paused.set()
        notify(bus, "-a", "Calendar", "Standup in 5 minutes")
        time.sleep(0.5)
        obs.stop()  # what waits is emitted at stop
        assert [(o.app, o.text.splitlines()[-1]) for o in out] == [("Thunderbird", "What the user did: dismissed")]
    finally:
        daemon.done.set()


def test_the_observer_survives_the_bus_going_away_and_coming_back(bus):
    daemon = start_daemon(bus)
    obs, out = watch(bus, settle_seconds=0.2)
    try:
        bus.stop()
        wait_for(lambda: not obs.health()["ok"])
        assert "bus" in obs.health()["detail"]
        daemon.done.set()

        bus.start()
        daemon = start_daemon(bus)
        wait_for(lambda: obs.health()["ok"] and obs.connects >= 2)
        notify(bus, "-a", "Firefox", "Download finished")
        wait_for(lambda: out)
        assert out[0].text.startswith("Notification from Firefox: Download finished")
    finally:
        obs.stop()
        daemon.done.set()


def test_no_session_bus_is_reported_as_unsupported(monkeypatch):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    obs = Notifications()
    obs.start()
    assert obs.health() == {"ok": False, "detail": "unsupported here: no session D-Bus "
                                                   "(DBUS_SESSION_BUS_ADDRESS is not set)"}
