"""Which window is active and which windows are where, per platform.

X11 through python-xlib (which pynput brings); macOS through pyobjc (AppKit + Quartz) when installed;
Windows through user32 with ctypes. Anything else (Wayland, no display) gets an `Unsupported` desktop with a
reason a user can act on. Each desktop is used from one thread at a time (a lock guards the connection).
"""

from __future__ import annotations

import os
import sys
import threading

from .activity import WindowInfo


class DesktopError(Exception):
    """The desktop could not be read (display gone, permission lost)."""


class Desktop:
    """The active window and the visible windows (bottom to top) of one desktop."""

    supported = True
    reason = ""

    def active_window(self) -> WindowInfo | None:
        return None

    def windows(self) -> list[WindowInfo]:
        return []

    def close(self) -> None:
        pass


class Unsupported(Desktop):
    """A desktop gum cannot read; `reason` says why and what to do."""

    supported = False

    def __init__(self, reason: str, *, permanent: bool = True):
        self.reason = reason
        self.permanent = permanent  # False: the display may come back (restarting the observer can help)

    def status(self) -> str:
        """The health detail an observer reports for this desktop."""
        return f"unsupported: {self.reason}" if self.permanent else f"display unavailable: {self.reason}"


def open_desktop() -> Desktop:
    """The desktop of this session, or Unsupported with the reason."""
    if sys.platform == "darwin":
        try:
            return MacDesktop()
        except ImportError:
            return Unsupported("macOS: install pyobjc-framework-Quartz to read the active window")
    if sys.platform == "win32":
        return WinDesktop()
    if os.environ.get("WAYLAND_DISPLAY") or os.environ.get("XDG_SESSION_TYPE") == "wayland":
        # Wayland compositors do not let an ordinary app read other windows or the screen; XWayland would
        # show only X11 apps, which would be a silently partial picture.
        return Unsupported("Wayland session: the active window and the screen cannot be read; "
                           "log in with an X11 (Xorg) session to observe")
    if not os.environ.get("DISPLAY"):
        return Unsupported("no X display (DISPLAY is not set)")
    try:
        return X11Desktop()
    except DesktopError as exc:
        return Unsupported(str(exc), permanent=False)


class X11Desktop(Desktop):
    """X11 via python-xlib. Without a window manager (no _NET_ACTIVE_WINDOW) the input focus, then the window
    under the pointer, stands for the active window."""

    def __init__(self, display_name: str | None = None):
        try:
            from Xlib import X, display, error
        except ImportError as exc:  # pragma: no cover - python-xlib comes with pynput
            raise DesktopError("python-xlib is not installed") from exc
        self._X, self._error = X, error
        try:
            self.d = display.Display(display_name)
        except Exception as exc:
            raise DesktopError(f"cannot open X display {display_name or os.environ.get('DISPLAY')}: {exc}") from exc
        self.root = self.d.screen().root
        self._lock = threading.Lock()
        self._atoms = {n: self.d.intern_atom(n)
                       for n in ("_NET_ACTIVE_WINDOW", "_NET_WM_NAME", "UTF8_STRING", "_NET_WM_PID")}

    def close(self) -> None:
        try:
            self.d.close()
        except (self._error.ConnectionClosedError, OSError):
            pass  # the display is already gone: nothing left to close

    def _call(self, fn):
        with self._lock:
            try:
                return fn()
            except (self._error.ConnectionClosedError, OSError) as exc:
                raise DesktopError(f"X display connection lost: {exc}") from exc

    def _title(self, w) -> str:
        try:
            prop = w.get_full_property(self._atoms["_NET_WM_NAME"], self._atoms["UTF8_STRING"])
            if prop and prop.value:
                v = prop.value
                return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
            name = w.get_wm_name()
            if isinstance(name, bytes):
                name = name.decode("latin-1")
            return name or ""
        except self._error.XError:
            return ""

    def _app(self, w) -> str:
        try:
            cls = w.get_wm_class()
        except self._error.XError:
            return ""
        return cls[1] if cls else ""

    def _pid(self, w) -> int | None:
        """The owning process from _NET_WM_PID (set by Qt, GTK and most toolkits), if any."""
        try:
            prop = w.get_full_property(self._atoms["_NET_WM_PID"], self._X.AnyPropertyType)
        except self._error.XError:
            return None
        return int(prop.value[0]) if prop is not None and len(prop.value) else None

    def _client(self, w, depth: int = 0):
        """The window itself if it has a title, else the first titled descendant (window-manager frames)."""
        if self._title(w) or self._app(w):
            return w
        if depth >= 3:
            return None
        try:
            children = w.query_tree().children
        except self._error.XError:
            return None
        for child in reversed(children):
            found = self._client(child, depth + 1)
            if found is not None:
                return found
        return None

    def _toplevel(self, w):
        """The child of the root window that contains `w` (the frame, or the window itself without a WM)."""
        for _ in range(20):
            try:
                tree = w.query_tree()
            except self._error.XError:
                return None
            if tree.parent is None or tree.parent.id == self.root.id or tree.parent.id == 0:
                return w
            w = tree.parent
        return w

    def _info(self, top) -> WindowInfo | None:
        try:
            attrs = top.get_attributes()
            if attrs.map_state != self._X.IsViewable:
                return None
            g = top.get_geometry()
        except self._error.XError:
            return None
        client = self._client(top) or top
        border = 2 * g.border_width
        return WindowInfo(app=self._app(client), title=self._title(client),
                          rect=(g.x, g.y, g.width + border, g.height + border), wid=client.id,
                          pid=self._pid(client))

    def windows(self) -> list[WindowInfo]:
        def read():
            out = []
            for top in self.root.query_tree().children:
                info = self._info(top)
                if info is not None and (info.title or info.app):
                    out.append(info)
            return out

        return self._call(read)

    def active_window(self) -> WindowInfo | None:
        def read():
            prop = self.root.get_full_property(self._atoms["_NET_ACTIVE_WINDOW"], self._X.AnyPropertyType)
            if prop and len(prop.value) and prop.value[0]:
                top = self._toplevel(self.d.create_resource_object("window", int(prop.value[0])))
                if top is not None:
                    return self._info(top)
            focus = self.d.get_input_focus().focus
            # focus is 0 (None) or 1 (PointerRoot) when no window holds it: then the window under the pointer.
            if not isinstance(focus, int) and focus.id != self.root.id:
                top = self._toplevel(focus)
                if top is not None:
                    info = self._info(top)
                    if info is not None:
                        return info
            child = self.root.query_pointer().child
            if child and not isinstance(child, int) and child.id:
                return self._info(child)
            return None

        return self._call(read)


class MacDesktop(Desktop):
    """macOS: the frontmost app from NSWorkspace, titles and bounds from CGWindowList (titles need the
    Screen Recording permission; without it they are empty and health says so)."""

    def __init__(self):
        import AppKit  # noqa: F401  (pyobjc)
        import Quartz

        self._Q = Quartz

    def _list(self, all_layers: bool = False) -> list[dict]:
        Q = self._Q
        opts = Q.kCGWindowListOptionOnScreenOnly | Q.kCGWindowListExcludeDesktopElements
        # Every layer for the windows on screen: a password manager's floating panel sits above layer 0.
        return [w for w in (Q.CGWindowListCopyWindowInfo(opts, Q.kCGNullWindowID) or [])
                if all_layers or w.get("kCGWindowLayer", 0) == 0]

    @staticmethod
    def _info(w: dict) -> WindowInfo:
        b = w.get("kCGWindowBounds", {})
        rect = (int(b.get("X", 0)), int(b.get("Y", 0)), int(b.get("Width", 0)), int(b.get("Height", 0)))
        return WindowInfo(app=str(w.get("kCGWindowOwnerName", "")), title=str(w.get("kCGWindowName", "") or ""),
                          rect=rect, wid=int(w.get("kCGWindowNumber", 0)),
                          pid=int(w.get("kCGWindowOwnerPID", 0)) or None)

    def windows(self) -> list[WindowInfo]:
        return [self._info(w) for w in reversed(self._list(all_layers=True))]  # CGWindowList is front to back

    def active_window(self) -> WindowInfo | None:
        from AppKit import NSWorkspace

        app = NSWorkspace.sharedWorkspace().frontmostApplication()
        if app is None:
            return None
        pid = app.processIdentifier()
        for w in self._list():
            if w.get("kCGWindowOwnerPID") == pid:
                return self._info(w)
        return WindowInfo(app=str(app.localizedName() or ""), pid=int(pid) or None)


class WinDesktop(Desktop):
    """Windows: user32 via ctypes (no extra package)."""

    def __init__(self):
        import ctypes
        from ctypes import wintypes

        self._c, self._w = ctypes, wintypes
        self.user32 = ctypes.windll.user32  # type: ignore[attr-defined]
        self.kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]

    def _info(self, hwnd) -> WindowInfo:
        c, w = self._c, self._w
        n = self.user32.GetWindowTextLengthW(hwnd)
        buf = c.create_unicode_buffer(n + 1)
        self.user32.GetWindowTextW(hwnd, buf, n + 1)
        r = w.RECT()
        self.user32.GetWindowRect(hwnd, c.byref(r))
        pid = w.DWORD()
        self.user32.GetWindowThreadProcessId(hwnd, c.byref(pid))
        return WindowInfo(app=self._process_name(pid.value), title=buf.value,
                          rect=(r.left, r.top, r.right - r.left, r.bottom - r.top), wid=int(hwnd or 0),
                          pid=int(pid.value) or None)

    def _process_name(self, pid: int) -> str:
        c, w = self._c, self._w
        handle = self.kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return ""
        try:
            buf = c.create_unicode_buffer(1024)
            size = w.DWORD(1024)
            if self.kernel32.QueryFullProcessImageNameW(handle, 0, buf, c.byref(size)):
                return os.path.splitext(os.path.basename(buf.value))[0]
            return ""
        finally:
            self.kernel32.CloseHandle(handle)

    def active_window(self) -> WindowInfo | None:
        hwnd = self.user32.GetForegroundWindow()
        return self._info(hwnd) if hwnd else None

    def windows(self) -> list[WindowInfo]:
        c, w = self._c, self._w
        found: list = []
        proc = c.WINFUNCTYPE(w.BOOL, w.HWND, w.LPARAM)(
            lambda hwnd, _: (found.append(hwnd) if self.user32.IsWindowVisible(hwnd) else None) or True
        )
        self.user32.EnumWindows(proc, 0)
        infos = [self._info(h) for h in found]
        # EnumWindows is top to bottom. Untitled windows are kept (an untitled password prompt must still be
        # matched by its process name and blanked); zero-sized ones are not windows anyone can read.
        return [i for i in reversed(infos) if (i.title or i.app) and i.rect and i.rect[2] > 0 and i.rect[3] > 0]
