"""The screen: text on every monitor, read with OCR only when and where it changed.

When: a capture follows what the user does (a click, a pause in typing, the end of a scroll, a window
switch), debounced, plus a slow timer (`interval`, backing off while nothing changes). Nothing is grabbed at
a fixed frame rate: between triggers the screen is not even grabbed.

Where: each grab is downscaled (means of 8x8 blocks of one channel) and compared with the previous one. An
unchanged monitor costs no OCR: its last observation gets a heartbeat (dwell time grows). A changed one is
read only in the changed region, widened to the window it lies in, or the active window after a switch.

Privacy: if the active window is excluded (password manager, private browsing, lock screen) nothing is
captured; other excluded windows on screen are blanked before the change check and OCR, so their text
never reaches OCR, the database or the model. Windows are listed right before and after each monitor's grab;
if the excluded windows changed in between (one opened, moved or closed), the frame is dropped, not blanked
wrongly. Text is redacted by the agent before it is stored; a frame whose text held a secret is not kept as a
screenshot (its pixels would hold the secret).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

from gum.privacy import Exclusions, Redactor
from gum.records import Observation, utcnow

from .activity import WindowInfo
from .base import Observer
from .desktop import Desktop, DesktopError, open_desktop

BLOCK = 8  # pixels per side of a block in the downscaled frame
BLOCK_DELTA = 2.0  # mean brightness change of a block (0-255) that counts as changed; a typed character moves it ~10
WHOLE = 0.5  # a change over this share of the monitor: read the active window (or the whole monitor)
PAD_Y, PAD_X = 16, 48  # around a changed region, so a line of text is not cut through
MAX_WINDOWS = 8  # windows read one by one when the whole monitor changed
BLANK = 255  # excluded windows are painted white: OCR finds nothing there


@dataclass
class Region:
    """A rectangle in monitor pixels."""

    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return max(0, self.w) * max(0, self.h)

    def clip(self, other: Region) -> Region:
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.x + self.w, other.x + other.w), min(self.y + self.h, other.y + other.h)
        return Region(x0, y0, max(0, x1 - x0), max(0, y1 - y0))

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


def thumbnail(gray):
    """Means of BLOCKxBLOCK blocks of a 2-D uint8 array (float32): a cheap, alias-free downscale."""
    import numpy as np

    h, w = (gray.shape[0] // BLOCK) * BLOCK, (gray.shape[1] // BLOCK) * BLOCK
    g = gray[:h, :w].astype(np.float32)
    return g.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).mean(axis=(1, 3))


def changed_region(prev, cur) -> Region | None:
    """The bounding box (monitor pixels) of the blocks that changed between two thumbnails; None if none did."""
    import numpy as np

    if prev is None or prev.shape != cur.shape:
        return Region(0, 0, cur.shape[1] * BLOCK, cur.shape[0] * BLOCK)
    mask = np.abs(cur - prev) > BLOCK_DELTA
    if not mask.any():
        return None
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return Region(int(x0 * BLOCK), int(y0 * BLOCK), int((x1 - x0) * BLOCK), int((y1 - y0) * BLOCK))


def _contains(outer: Region, inner: Region) -> bool:
    return outer.clip(inner).area == inner.area


def choose_regions(changed: Region, monitor: Region, windows: list[Region], active: Region | None,
                   first: bool) -> list[Region]:
    """What to OCR: the changed region widened to its window; after a big change the active window, or
    each window on screen (tesseract reads a window far better, and faster, than a whole desktop)."""
    if first or changed.area >= WHOLE * monitor.area:
        if active is not None and active.clip(monitor).area >= 64 * 64:
            return [active.clip(monitor)]
        regions: list[Region] = []
        for win in reversed(windows):  # topmost first; a window hidden inside one above it is not read twice
            r = win.clip(monitor)
            if r.area >= 32 * 32 and not any(_contains(u, r) for u in regions):
                regions.append(r)
            if len(regions) == MAX_WINDOWS:
                break
        return regions or [monitor]
    grown = Region(changed.x - PAD_X, changed.y - PAD_Y, changed.w + 2 * PAD_X, changed.h + 2 * PAD_Y)
    cx, cy = changed.x + changed.w // 2, changed.y + changed.h // 2
    for win in reversed(windows):  # topmost first
        if win.x <= cx < win.x + win.w and win.y <= cy < win.y + win.h:
            # Whole lines of that window: text lines run across it, a changed word is part of one.
            grown = Region(win.x, grown.y, win.w, grown.h).clip(win)
            break
    return [grown.clip(monitor)]


BROWSER_TOOLBAR = 88  # pixels at the top of a browser window: tab strip, address bar, bookmarks (at 1x)
_BROWSERS = ("chrom", "firefox", "edge", "brave", "vivaldi", "opera", "safari", "epiphany", "librewolf")


def is_browser(app: str) -> bool:
    a = (app or "").lower()
    return any(b in a for b in _BROWSERS)


def below_toolbar(region: Region, window: Region) -> Region:
    """`region` without the browser's own top bars: OCR reads tab strips and address bars as garbage, and
    they name pages the window title already names."""
    top = window.y + BROWSER_TOOLBAR
    if region.y >= top:
        return region
    return Region(region.x, top, region.w, max(0, region.y + region.h - top))


@dataclass
class MonitorState:
    """What the observer remembers of one monitor between captures."""

    thumb: object = None
    last: Observation | None = None
    captures: int = 0


@dataclass
class Stats:
    """Counters for health, status and the benchmark."""

    captures: int = 0
    unchanged: int = 0
    ocr_runs: int = 0
    ocr_ms: list = field(default_factory=list)
    ocr_pixels: list = field(default_factory=list)
    excluded: int = 0
    blanked: int = 0
    raced: int = 0  # frames dropped: an excluded window appeared, moved or went during the grab
    not_kept: int = 0  # frames whose text held a secret: not kept as screenshots
    errors: int = 0
    triggers: dict = field(default_factory=dict)


class Screen(Observer):
    """Captures every monitor on activity, OCRs what changed, emits one observation per changed monitor."""

    name = "screen"
    interval = 10.0  # the slow timer; doubles up to max_interval while the screen does not change

    def __init__(self, *, exclusions: Exclusions | None = None, keeper=None, min_gap: float = 2.0,
                 settle: float = 0.5, typing_pause: float = 1.5, scroll_pause: float = 0.8,
                 max_interval: float = 300.0, desktop_factory=open_desktop, ocr=None, lang: str = "eng",
                 redactor: Redactor | None = None):
        super().__init__()
        self.exclusions = exclusions or Exclusions()
        self.keeper = keeper  # gum.screenshots.ScreenshotKeeper when the user keeps screenshots
        # Only to decide whether a frame may be kept as a screenshot (the agent redacts the text itself).
        self.redactor = redactor or Redactor()
        self.min_gap, self.settle = min_gap, settle
        self.typing_pause, self.scroll_pause = typing_pause, scroll_pause
        self.base_interval, self.max_interval = self.interval, max_interval
        self._timer_interval = self.interval
        self._factory = desktop_factory
        self._ocr = ocr
        self.lang = lang
        self.desktop: Desktop | None = None
        self._sct = None
        self.monitors: dict[int, MonitorState] = {}
        self.stats = Stats()
        self._requested: str | None = None
        self._last_capture = 0.0
        self._last_capture_wall = 0.0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._capture_lock = threading.Lock()

    # -- life cycle -----------------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self.desktop = self._factory()
        if not self.desktop.supported:
            self.fail(self.desktop.status())
            return
        self._thread = threading.Thread(target=self._loop, name="gum-screen", daemon=True)
        self._thread.start()
        self.request("start")
        self.ok("started")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)  # an OCR in flight finishes first (a few seconds at most)
            self._thread = None
        self._close_grabber()
        if self.desktop is not None:
            self.desktop.close()
            self.desktop = None

    def expected_interval(self) -> float:
        # The slow timer backs off to max_interval on a still screen; a capture (and its OCR) can add a few
        # seconds to each period.
        return max(self.interval or 0.0, self._timer_interval) + 15.0

    def health(self) -> dict:
        if self._thread is not None and not self._thread.is_alive() and not self._stop.is_set():
            self.fail("the capture thread stopped")
        h = super().health()
        if h["ok"] and self.stats.captures:
            ago = time.monotonic() - self._last_capture
            s = self.stats
            h["detail"] = (f"last capture {ago:.0f} s ago; {s.captures} captures, {s.ocr_runs} read, "
                           f"{s.unchanged} unchanged, {s.excluded} skipped (excluded window)")
        return h

    # -- when to capture ------------------------------------------------------------------------------

    def request(self, trigger: str) -> None:
        """Ask for a capture soon (debounced: at most one per `min_gap` seconds)."""
        self._requested = self._requested or trigger
        self._wake.set()

    def tick(self) -> None:
        """The slow timer (the agent's scheduler calls this every `interval` seconds)."""
        if time.monotonic() - self._last_capture >= self._timer_interval:
            self.request("timer")

    def on_wake(self) -> None:
        """After the machine slept: forget the old frames and look again."""
        for state in self.monitors.values():
            state.thumb = None
        self.request("wake")

    def due(self, now: float) -> str | None:
        """The trigger that makes a capture due now, if any (pure: reads the shared activity only)."""
        if now - self._last_capture < self.min_gap:
            return None
        a = self.activity
        last = self._last_capture
        switched = a.window_changed_at
        if switched is not None and switched > last and now - switched >= self.settle:
            return "switch"
        click = a.since("clicks")
        if click is not None and click > last and now - click >= self.settle:
            return "click"
        scroll = a.since("scrolls")
        if scroll is not None and scroll > last and now - scroll >= self.scroll_pause:
            return "scroll"
        key = a.since("keys")
        if key is not None and key > last and now - key >= self.typing_pause:
            return "typing"
        return self._requested

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=0.25)
            self._wake.clear()
            if self._stop.is_set():
                break
            if self.paused():
                self._requested = None
                continue
            trigger = self.due(time.monotonic())
            if trigger:
                self._requested = None
                try:
                    self.capture(trigger)
                except Exception as exc:  # keep the thread alive; health reports the failure
                    self.log.debug("capture failed", exc_info=True)
                    self.stats.errors += 1
                    self.fail(f"capture failed: {exc.__class__.__name__}: {exc}")
                    self._close_grabber()

    # -- capture --------------------------------------------------------------------------------------

    def _grabber(self):
        if self._sct is None:
            import mss

            self._sct = mss.MSS() if hasattr(mss, "MSS") else mss.mss()
        return self._sct

    def _close_grabber(self) -> None:
        sct, self._sct = self._sct, None
        if sct is not None:
            try:
                sct.close()
            except Exception:
                self.log.debug("closing mss failed", exc_info=True)

    def _windows(self) -> tuple[WindowInfo | None, list[WindowInfo]]:
        if self.desktop is None:
            self.desktop = self._factory()
        if not self.desktop.supported:
            raise RuntimeError(self.desktop.status())
        try:
            return self.desktop.active_window(), self.desktop.windows()
        except DesktopError as exc:
            # The screen can still be read; exclusions cannot be checked, so capture nothing rather than leak.
            self.desktop.close()
            self.desktop = self._factory()
            raise RuntimeError(f"cannot list windows to apply exclusions: {exc}") from exc

    def capture(self, trigger: str) -> list[Observation]:
        """Grab every monitor now, OCR what changed, emit; returns the observations emitted."""
        with self._capture_lock:
            return self._capture(trigger)

    def _capture(self, trigger: str) -> list[Observation]:
        import numpy as np

        from gum.errors import InputError

        now = time.monotonic()
        self._last_capture, self._last_capture_wall = now, time.time()
        self.stats.triggers[trigger] = self.stats.triggers.get(trigger, 0) + 1
        active, windows = self._windows()
        if self.exclusions.window(active):
            self.stats.excluded += 1
            self.activity.take(self.name)
            self.ok("active window excluded: not captured")
            return []
        sct = self._grabber()
        engagement = self.activity.take(self.name)
        emitted: list[Observation] = []
        any_change = False
        for index, mon in enumerate(sct.monitors[1:], start=1):
            if self.paused() or self._stop.is_set():
                break
            # Windows are listed right before and right after each grab (OCR of the monitor before takes
            # seconds): a password manager opened, moved or closed in between makes the frame unsafe to blank.
            active, windows = self._windows()
            shot = sct.grab(mon)
            self.stats.captures += 1
            after_active, after = self._windows()
            excluded = [w for w in windows if w.rect and self.exclusions.window(w)]
            if (self.exclusions.window(active) or self.exclusions.window(after_active)
                    or _boxes(excluded) != _boxes([w for w in after if w.rect and self.exclusions.window(w)])):
                self.stats.raced += 1
                self.request("retry")  # look again soon (debounced like any other trigger)
                continue
            frame = np.frombuffer(shot.bgra, dtype=np.uint8).reshape(shot.height, shot.width, 4)
            mon_box = Region(0, 0, shot.width, shot.height)

            def local(rect, mon=mon) -> Region:
                return Region(rect[0] - mon["left"], rect[1] - mon["top"], rect[2], rect[3])

            if excluded:
                frame = frame.copy()
                for w in excluded:
                    r = local(w.rect).clip(mon_box)
                    if r.area:
                        frame[r.y:r.y + r.h, r.x:r.x + r.w, :3] = BLANK
                        self.stats.blanked += 1
            state = self.monitors.setdefault(index, MonitorState())
            thumb = thumbnail(frame[:, :, 1])
            first = state.thumb is None or state.thumb.shape != thumb.shape
            changed = changed_region(state.thumb, thumb)
            state.thumb = thumb
            on_this = active is not None and active.rect is not None and local(active.rect).clip(mon_box).area > 0
            eng = engagement if (on_this or index == 1) else {"keys": 0, "clicks": 0, "scrolls": 0}
            observer = self.name if index == 1 else f"{self.name}:{index}"
            if changed is None:
                self.stats.unchanged += 1
                if state.last is not None:
                    beat = replace(state.last, ts=utcnow(), ts_end=None, id=None,
                                   image_path=None, meta={**state.last.meta, "trigger": trigger,
                                                          "engagement": _eng(eng)})
                    self.emit(beat)
                continue
            any_change = True
            win_regions = [local(w.rect) for w in windows if w.rect and w not in excluded]
            act_region = local(active.rect) if on_this else None
            regions = [r for r in choose_regions(changed, mon_box, win_regions, act_region, first) if r.area]
            if act_region is not None and is_browser(active.app):
                regions = [below_toolbar(r, act_region) for r in regions]
                regions = [r for r in regions if r.area]
            if not regions:
                continue
            from PIL import Image

            t0 = time.perf_counter()
            try:
                parts = [self._read(Image.fromarray(
                    np.ascontiguousarray(frame[r.y:r.y + r.h, r.x:r.x + r.w, 2::-1]), "RGB")) for r in regions]
            except InputError as exc:
                self.stats.errors += 1
                self.fail(f"OCR failing: {exc}")
                return emitted
            text = "\n".join(t for t in parts if t.strip())
            ms = (time.perf_counter() - t0) * 1000
            pixels = sum(r.area for r in regions)
            self.stats.ocr_runs += 1
            self.stats.ocr_ms.append(ms)
            self.stats.ocr_pixels.append(pixels)
            if not text.strip():
                continue
            obs = Observation(
                observer=observer, text=text,
                app=active.app if on_this else "", window=active.title if on_this else "",
                meta={"trigger": trigger, "monitor": index, "regions": [r.as_list() for r in regions],
                      "whole": pixels >= 0.9 * mon_box.area, "ocr_ms": round(ms),
                      "engagement": _eng(eng)},
            )
            if self.keeper is not None:
                if self.redactor.finds(text):  # the pixels would keep what redaction takes out of the text
                    self.stats.not_kept += 1
                else:
                    full = Image.fromarray(np.ascontiguousarray(frame[:, :, 2::-1]), "RGB")
                    obs.image_path = self.keeper.save(full)
            state.last = obs
            state.captures += 1
            if self.paused():
                break
            self.emit(obs)
            emitted.append(obs)
        # The slow timer runs while the screen keeps changing and backs off while it stays still.
        self._timer_interval = (self.base_interval if any_change
                                else min(self.max_interval, self._timer_interval * 2))
        self.ok("captured")
        return emitted

    def _read(self, image) -> str:
        if self._ocr is not None:
            return self._ocr(image)
        from gum.ocr import ocr_image

        return ocr_image(image, lang=self.lang)


def _boxes(windows: list[WindowInfo]) -> set:
    """What must stay the same across a grab for blanking to be right: which excluded windows, and where."""
    return {(w.wid, tuple(w.rect)) for w in windows}


def _eng(counts: dict) -> dict:
    return {k: counts.get(k, 0) for k in ("keys", "clicks", "scrolls")}
