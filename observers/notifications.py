"""Desktop notifications (Linux): what apps told the user, and whether the user clicked, dismissed or ignored it.

Off by default. It watches the session D-Bus as a *monitor* (org.freedesktop.DBus.Monitoring.BecomeMonitor,
the mechanism `dbus-monitor` uses): it sees the `org.freedesktop.Notifications.Notify` calls apps make and
the daemon's `NotificationClosed` / `ActionInvoked` signals, and never replaces or disturbs the user's
notification daemon. A monitor cannot send anything on the bus.

Each notification is one observation of kind "notification" (meta["kind"]): the app name and the summary
line. The body (message previews, one-time codes) is not recorded unless `include_body = true`, and then
goes through the same redaction as everything else. Notifications are low-weight evidence (see
gum/engagement.py): what a notification says is not what the user does. What the user did with it is
recorded where the daemon tells: clicked (an action was invoked: meta["engagement"]["clicks"] = 1),
dismissed, or expired unread. Each is emitted once its outcome is known, or after `settle_seconds`.

If the bus goes away (the session ends, the daemon restarts) the observer reports it in its health and
reconnects with a back-off.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from gum.privacy import Exclusions
from gum.records import Observation, utcnow

from .base import Observer

IFACE = "org.freedesktop.Notifications"
_CLOSE_REASONS = {1: "expired", 2: "dismissed", 3: "closed by the app", 4: "closed"}


@dataclass
class Pending:
    """A notification seen on the bus, waiting to learn what the user did with it."""

    app: str
    summary: str
    body: str
    ts: datetime
    seen_at: float
    has_actions: bool
    notification_id: int | None = None
    outcome: str = ""
    clicks: int = 0
    extra: dict = field(default_factory=dict)


class Notifications(Observer):
    """Emits one low-weight observation per desktop notification, with what the user did with it."""

    name = "notifications"

    def __init__(self, *, bus_address: str = "", include_body: bool = False, settle_seconds: float = 30.0,
                 exclude_apps: list[str] | None = None, exclusions: Exclusions | None = None,
                 reconnect_seconds: float = 5.0):
        super().__init__()
        self.address = bus_address  # "": the session bus of DBUS_SESSION_BUS_ADDRESS
        self.include_body = bool(include_body)
        self.settle = float(settle_seconds)
        self.exclusions = exclusions or Exclusions()
        self.exclude_apps = [a.lower() for a in (exclude_apps or [])]
        self.reconnect_s = float(reconnect_seconds)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._calls: dict[tuple[str, int], Pending] = {}  # (sender, serial) -> waiting for the daemon's id
        self._by_id: dict[int, Pending] = {}
        self._waiting: list[Pending] = []
        self.seen = 0
        self.connects = 0

    def start(self) -> None:
        if not (self.address or os.environ.get("DBUS_SESSION_BUS_ADDRESS")):
            self.fail("unsupported here: no session D-Bus (DBUS_SESSION_BUS_ADDRESS is not set)")
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="gum-notifications", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
            self._thread = None
        self._flush(force=True)

    # -- the monitor loop -------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn = self._connect()
            except Exception as exc:  # noqa: BLE001 - no bus yet, or a bus that refuses monitors
                self.fail(f"session bus not reachable: {exc.__class__.__name__}: {exc}")
                self._stop.wait(self.reconnect_s)
                continue
            try:
                self.ok("watching notifications")
                while not self._stop.is_set():
                    try:
                        msg = conn.receive(timeout=0.5)
                    except TimeoutError:
                        self._flush()
                        continue
                    self._handle(msg)
                    self._flush()
            except Exception as exc:  # noqa: BLE001 - the bus went away: report, reconnect
                if not self._stop.is_set():
                    self.fail(f"session bus went away ({exc.__class__.__name__}); reconnecting")
            finally:
                conn.close()
            self._flush(force=True)
            self._stop.wait(self.reconnect_s)

    def _connect(self):
        from jeepney import DBusAddress, MessageType, new_method_call
        from jeepney.bus_messages import Monitoring
        from jeepney.io.blocking import open_dbus_connection

        conn = open_dbus_connection(bus=self.address or "SESSION")
        try:
            bus = DBusAddress("/org/freedesktop/DBus", bus_name="org.freedesktop.DBus",
                              interface="org.freedesktop.DBus")
            rules = [
                f"type='method_call',interface='{IFACE}',member='Notify'",
                f"type='signal',interface='{IFACE}',member='NotificationClosed'",
                f"type='signal',interface='{IFACE}',member='ActionInvoked'",
                # A new daemon means new ids (and a new sender of the replies): start over.
                f"type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='{IFACE}'",
            ]
            owner = conn.send_and_get_reply(new_method_call(bus, "GetNameOwner", "s", (IFACE,)), timeout=5)
            if owner.header.message_type == MessageType.method_return:
                # The daemon's replies carry the notification's id, which its later signals name.
                rules.append(f"type='method_return',sender='{owner.body[0]}'")
            reply = conn.send_and_get_reply(Monitoring().BecomeMonitor(rules), timeout=5)
            if reply.header.message_type != MessageType.method_return:
                raise ConnectionError(f"the bus refused to let gum monitor it: {reply.body}")
        except BaseException:
            conn.close()
            raise
        self.connects += 1
        return conn

    # -- messages ---------------------------------------------------------------------------------------

    def _handle(self, msg) -> None:
        from jeepney import HeaderFields, MessageType

        h = msg.header
        fields = h.fields
        if h.message_type == MessageType.method_call and fields.get(HeaderFields.member) == "Notify":
            if self.paused():
                return
            app, _replaces, _icon, summary, body, actions, hints, _timeout = msg.body
            app = app or _hint(hints, "desktop-entry") or "unknown app"
            if self.exclusions.matches(app, summary) or app.lower() in self.exclude_apps:
                return
            p = Pending(app=app, summary=" ".join(summary.split()), body=" ".join(body.split()), ts=utcnow(),
                        seen_at=time.monotonic(), has_actions=bool(actions))
            self._calls[(fields.get(HeaderFields.sender, ""), h.serial)] = p
            self._waiting.append(p)
            self.seen += 1
        elif h.message_type == MessageType.method_return:
            key = (fields.get(HeaderFields.destination, ""), fields.get(HeaderFields.reply_serial))
            p = self._calls.pop(key, None)
            if p is not None and msg.body:
                p.notification_id = int(msg.body[0])
                self._by_id[p.notification_id] = p
        elif h.message_type == MessageType.signal:
            member = fields.get(HeaderFields.member)
            if member == "ActionInvoked":
                p = self._by_id.get(int(msg.body[0]))
                if p is not None:
                    p.outcome, p.clicks = "clicked", 1
                    p.extra["action"] = str(msg.body[1])[:40]
            elif member == "NotificationClosed":
                p = self._by_id.pop(int(msg.body[0]), None)
                if p is not None and not p.outcome:
                    p.outcome = _CLOSE_REASONS.get(int(msg.body[1]), "closed")
                if p is not None:
                    p.seen_at = -1.0  # settled: emit now
            elif member == "NameOwnerChanged":
                raise ConnectionResetError("the notification daemon changed")

    def _flush(self, *, force: bool = False) -> None:
        now = time.monotonic()
        keep = []
        for p in self._waiting:
            if force or p.seen_at < 0 or now - p.seen_at >= self.settle:
                self._emit(p)
            else:
                keep.append(p)
        self._waiting = keep
        if len(self._calls) > 1000 or len(self._by_id) > 1000:  # replies or signals we never saw
            self._calls.clear()
            self._by_id.clear()

    def _emit(self, p: Pending) -> None:
        outcome = p.outcome or "no response seen"
        lines = [f"Notification from {p.app}: {p.summary}"]
        if self.include_body and p.body:
            lines.append(p.body[:300])
        elif p.body:
            lines.append("(body not recorded)")
        lines.append(f"What the user did: {outcome}")
        meta = {"kind": "notification", "notification": {"outcome": outcome, **p.extra},
                "engagement": {"keys": 0, "clicks": p.clicks, "scrolls": 0}}
        self.emit(Observation(observer=self.name, app=p.app, window=p.summary, text="\n".join(lines), ts=p.ts,
                              meta=meta))


def _hint(hints, name: str) -> str:
    try:
        value = dict(hints).get(name)
    except (TypeError, ValueError):
        return ""
    if isinstance(value, tuple) and len(value) == 2:  # jeepney gives variants as (signature, value)
        value = value[1]
    return str(value) if value else ""
