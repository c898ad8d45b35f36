"""The Timeline tab: one day drawn as lanes of activity per app, what gum learned from it, and time per app.

The day comes from the agent (GET /v1/timeline, through ui/api.py), never from the database. Drawing is
QPainter on plain widgets: the canvas paints only what is in view (blocks found by bisection, blocks that
fall on one pixel column drawn once), so a day of thousands of segments repaints in milliseconds while the
user scrolls or zooms.
"""

from __future__ import annotations

import bisect
import logging
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from PySide6.QtCore import QDate, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollBar,
    QSizePolicy,
    QSplitter,
    QToolTip,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gum.timeline import duration as _duration

from .detail_pane import heading
from .proposition_model import parse_time

log = logging.getLogger("gum.ui.timeline")

# Tableau 10: distinct colours that read on white; an app keeps its colour from day to day (hash of its name).
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac"]
HATCH = QColor(150, 150, 150)
LABEL_W = 150
AXIS_H = 26
LANE_H = 30
GAP_H = 18  # the row under the lanes that names idle and not-recorded spans
TICKS_MIN = [5, 10, 15, 30, 60, 120, 180, 360]
MIN_TICK_PX = 64
ROLE_PROP = Qt.UserRole + 1
ROLE_BLOCK = Qt.UserRole + 2
GAP_TEXT = {"idle": "idle", "paused": "not recorded (paused)", "excluded": "not recorded (excluded window)"}
GAP_SHORT = {"idle": "idle", "paused": "paused", "excluded": "excluded"}
GAP_WHY = {"idle": "Idle or away: nothing happened on screen", "paused": "Not recorded: observing was paused",
           "excluded": "Not recorded: an excluded window (a password manager, a private window…) was in front"}
LEGEND = "solid: mostly typing, clicking, scrolling · light: mostly reading · hatched: not recorded"


def colour(app: str) -> QColor:
    """The app's colour, the same on every day."""
    return QColor(PALETTE[zlib.crc32(app.encode("utf-8")) % len(PALETTE)])


def duration(s: float) -> str:
    return _duration(s, short=True)  # lanes and bars have little room: "1 h 20", not "1 h 20 min"


def clock(t: datetime) -> str:
    return t.astimezone().strftime("%H:%M")


@dataclass
class Block:
    """A segment as the canvas draws it: seconds from the day's start, and the API's fields."""

    s: float
    e: float
    d: dict
    lane: int


@dataclass
class DayView:
    """The API's day, ready to draw: offsets in seconds, blocks per lane sorted by start."""

    raw: dict
    start: datetime
    end: datetime
    now_s: float
    lanes: list[dict]
    blocks: list[list[Block]]
    starts: list[list[float]]  # per lane, for bisection
    longest: list[float]  # per lane: the longest block, how far back a visible block can start
    gaps: list[tuple[float, float, str]]
    props: dict[int, dict] = field(default_factory=dict)
    by_id: dict[int, Block] = field(default_factory=dict)

    @property
    def span_s(self) -> float:
        return (self.end - self.start).total_seconds()

    @classmethod
    def of(cls, d: dict) -> DayView:
        start, end = parse_time(d["start"]), parse_time(d["end"])

        def off(value) -> float:
            return (datetime.fromisoformat(value) - start).total_seconds()

        blocks, starts, longest, by_id = [], [], [], {}
        for i, lane in enumerate(d["lanes"]):
            items = sorted((Block(off(b["start"]), off(b["end"]), b, i) for b in lane["blocks"]), key=lambda b: b.s)
            blocks.append(items)
            starts.append([b.s for b in items])
            longest.append(max((b.e - b.s for b in items), default=0.0))
            by_id.update({b.d["id"]: b for b in items})
        gaps = [(off(g["start"]), off(g["end"]), g["kind"]) for g in d["gaps"]]
        return cls(d, start, end, off(d["now"]), d["lanes"], blocks, starts, longest, gaps,
                   {p["id"]: p for p in d.get("propositions", [])}, by_id)


def describe(view: DayView, b: Block, *, evidence: bool = True) -> str:
    """What hovering or selecting a block says: title, span, input, dwell and what it is evidence for."""
    d = b.d
    lane = view.lanes[b.lane]
    span = f"{clock(view.start + timedelta(seconds=b.s))}–{clock(view.start + timedelta(seconds=b.e))}"
    lines = [f"<b>{_esc(d.get('title') or lane['label'])}</b>", (f"{_esc(lane['label'])} · {span} "
             f"({duration(b.e - b.s)}{', continues past midnight' if d.get('cut_end') else ''}"
             f"{', from the day before' if d.get('cut_start') else ''})")]
    inputs = ", ".join(f"{d[k]} {k}" for k in ("keys", "clicks", "scrolls") if d.get(k)) or "no input"
    lines.append(f"Input: {inputs} · active {duration(d.get('active_s', 0))} · dwell {duration(d.get('dwell_s', 0))}")
    kind = {"glance": "a glance (not read by the model)", "known": "a repeat of something already read",
            "empty": "no text", "open": "still going on"}.get(d.get("kind"))
    if kind:
        lines.append(f"<i>{kind}</i>")
    if evidence and d.get("propositions"):
        lines.append("Evidence for:")
        for pid in d["propositions"][:8]:
            p = view.props.get(pid)
            lines.append(f"&nbsp;&nbsp;#{pid} {_esc(p['text']) if p else ''}")
    return "<br>".join(lines)


def _esc(text: str) -> str:
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class TimelineCanvas(QWidget):
    """The day's lanes on a time axis: blocks per app, hatched not-recorded spans, gaps left empty."""

    block_selected = Signal(object)  # the block's API dict, or None
    view_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.view: DayView | None = None
        self.first_s = 0.0  # the time at the left edge of the plot
        self.visible_s = 86400.0  # how much of the day is in view (zoom)
        self.hover: Block | None = None
        self.selected: Block | None = None
        self.setMouseTracking(True)
        self.setMinimumHeight(AXIS_H + LANE_H * 3 + GAP_H * 2)
        self.setFocusPolicy(Qt.StrongFocus)

    # -- data and geometry -----------------------------------------------------------------------------

    def set_day(self, view: DayView | None) -> None:
        self.view = view
        self.hover = self.selected = None
        self.first_s, self.visible_s = 0.0, view.span_s if view else 86400.0
        if view is not None:
            self.fit_activity()
        self.setMinimumHeight(self.sizeHint().height())
        self.updateGeometry()
        self.update()
        self.view_changed.emit()

    def fit_activity(self) -> None:
        """Zoom to the part of the day with something in it (with a margin), at least two hours."""
        v = self.view
        spans = [(b.s, b.e) for lane in v.blocks for b in (lane[:1] + lane[-1:])] + [(a, b) for a, b, _ in v.gaps]
        if not spans:
            return
        a, b = min(s for s, _ in spans), max(e for _, e in spans)
        margin = max(900.0, (b - a) * 0.03)
        a, b = max(0.0, a - margin), min(v.span_s, b + margin)
        if b - a < 7200:
            mid = (a + b) / 2
            a, b = max(0.0, mid - 3600), min(v.span_s, mid + 3600)
        self.first_s, self.visible_s = a, b - a

    def sizeHint(self) -> QSize:
        n = len(self.view.lanes) if self.view else 3
        return QSize(900, AXIS_H + LANE_H * max(3, n) + GAP_H * 2 + 4)

    def plot_w(self) -> float:
        return max(1.0, self.width() - LABEL_W - 8)

    def x_of(self, s: float) -> float:
        return LABEL_W + (s - self.first_s) * self.plot_w() / self.visible_s

    def s_of(self, x: float) -> float:
        return self.first_s + (x - LABEL_W) * self.visible_s / self.plot_w()

    def lane_top(self, i: int) -> float:
        return AXIS_H + i * LANE_H

    def zoom(self, factor: float, at_x: float | None = None) -> None:
        """Zoom in (factor < 1) or out around `at_x` (the middle when None): from 10 minutes to the whole day."""
        if self.view is None:
            return
        at = self.s_of(at_x if at_x is not None else LABEL_W + self.plot_w() / 2)
        new = min(self.view.span_s, max(600.0, self.visible_s * factor))
        frac = (at - self.first_s) / self.visible_s
        self.visible_s = new
        self.scroll_to(at - frac * new)

    def scroll_to(self, first_s: float) -> None:
        if self.view is None:
            return
        self.first_s = min(max(0.0, first_s), max(0.0, self.view.span_s - self.visible_s))
        self.update()
        self.view_changed.emit()

    def block_at(self, x: float, y: float) -> Block | None:
        v = self.view
        if v is None or x < LABEL_W or y < AXIS_H:
            return None
        i = int((y - AXIS_H) // LANE_H)
        if i >= len(v.blocks):
            return None
        s = self.s_of(x)
        slack = 2 * self.visible_s / self.plot_w()  # a block narrower than a pixel is still hit
        lo = bisect.bisect_left(v.starts[i], s - v.longest[i] - slack)
        hi = bisect.bisect_right(v.starts[i], s + slack)
        hits = [b for b in v.blocks[i][lo:hi] if b.s - slack <= s <= b.e + slack]
        return min(hits, key=lambda b: abs((b.s + b.e) / 2 - s), default=None)

    def select(self, block_id: int | None) -> None:
        """Select a block (and bring it into view)."""
        b = self.view.by_id.get(block_id) if self.view and block_id is not None else None
        self.selected = b
        if b is not None and not (self.first_s <= b.s and b.e <= self.first_s + self.visible_s):
            self.scroll_to((b.s + b.e) / 2 - self.visible_s / 2)
        self.update()
        self.block_selected.emit(b.d if b else None)

    # -- events ----------------------------------------------------------------------------------------

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        b = self.block_at(pos.x(), pos.y())
        if b is not self.hover:
            self.hover = b
            self.update()
        gap = self.gap_at(pos.x(), pos.y()) if b is None else None
        if b is not None:
            QToolTip.showText(event.globalPosition().toPoint(), describe(self.view, b), self)
        elif gap is not None:
            a, e, kind = gap
            start = self.view.start
            QToolTip.showText(event.globalPosition().toPoint(), f"{GAP_WHY[kind]}<br>"
                              f"{clock(start + timedelta(seconds=a))}–{clock(start + timedelta(seconds=e))} "
                              f"({duration(e - a)})", self)
        else:
            QToolTip.hideText()

    def gap_at(self, x: float, y: float) -> tuple[float, float, str] | None:
        """The idle or not-recorded span under the pointer, if any."""
        if self.view is None or x < LABEL_W or y < AXIS_H:
            return None
        s = self.s_of(x)
        return next((g for g in self.view.gaps if g[0] <= s <= g[1]), None)

    def leaveEvent(self, event) -> None:
        self.hover = None
        self.update()

    def mousePressEvent(self, event) -> None:
        pos = event.position()
        b = self.block_at(pos.x(), pos.y())
        self.select(b.d["id"] if b else None)

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120 or event.angleDelta().x() / 120
        if event.modifiers() & Qt.ControlModifier:
            self.zoom(0.8 ** steps, event.position().x())
        else:
            self.scroll_to(self.first_s - steps * self.visible_s / 10)

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key in (Qt.Key_Left, Qt.Key_Right):
            self.scroll_to(self.first_s + (-1 if key == Qt.Key_Left else 1) * self.visible_s / 10)
        elif key in (Qt.Key_Plus, Qt.Key_Equal, Qt.Key_Minus):
            self.zoom(0.7 if key != Qt.Key_Minus else 1 / 0.7)
        else:
            super().keyPressEvent(event)

    # -- painting --------------------------------------------------------------------------------------

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        pal = self.palette()
        p.fillRect(self.rect(), pal.base())
        v = self.view
        text_pen = QPen(pal.text().color())
        grid_pen = QPen(QColor(200, 200, 200))
        if v is None:
            p.setPen(text_pen)
            p.drawText(self.rect(), Qt.AlignCenter, "Loading…")
            p.end()
            return
        n = len(v.lanes)
        bottom = AXIS_H + n * LANE_H
        left, right = LABEL_W, LABEL_W + self.plot_w()
        t0, t1 = self.first_s, self.first_s + self.visible_s
        # Lane backgrounds, alternating, so a lane reads across the whole width.
        for i in range(n):
            if i % 2:
                p.fillRect(QRectF(0, self.lane_top(i), self.width(), LANE_H), pal.alternateBase())
        # The time axis: ticks at whole local minutes, the step chosen so labels do not collide.
        px_per_min = self.plot_w() / (self.visible_s / 60)
        step = next((m for m in TICKS_MIN if m * px_per_min >= MIN_TICK_PX), TICKS_MIN[-1])
        first = int(t0 // (step * 60)) * step * 60
        p.setPen(text_pen)
        small = QFont(p.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.9))
        p.setFont(small)
        tick = first
        while tick <= t1:
            x = self.x_of(tick)
            if x >= left:
                p.setPen(grid_pen)
                p.drawLine(QPointF(x, AXIS_H - 4), QPointF(x, bottom))
                p.setPen(text_pen)
                p.drawText(QRectF(x - 30, 2, 60, AXIS_H - 6), Qt.AlignCenter,
                           clock(v.start + timedelta(seconds=tick)))
            tick += step * 60
        p.setClipRect(QRectF(left, 0, right - left, self.height()))
        # Not recorded: hatched across every lane; idle: left empty, named in the row below.
        for a, b, kind in v.gaps:
            if b < t0 or a > t1:
                continue
            x0, x1 = self.x_of(a), self.x_of(b)
            if kind != "idle":
                p.fillRect(QRectF(x0, AXIS_H, max(1.0, x1 - x0), max(LANE_H, bottom - AXIS_H)),
                           QBrush(HATCH, Qt.BDiagPattern))
            # The long name where it fits, else the short one (it may run past a narrow span's ends).
            text = GAP_TEXT[kind] if x1 - x0 > p.fontMetrics().horizontalAdvance(GAP_TEXT[kind]) + 4 else GAP_SHORT[kind]
            if x1 - x0 > 6:
                p.setPen(QPen(QColor(110, 110, 110)))
                p.drawText(QRectF(x0 - 40, bottom + 1, x1 - x0 + 80, GAP_H - 2), Qt.AlignCenter, text)
        # The blocks: only those in view; of blocks that fall on one pixel column, one is drawn.
        p.setPen(Qt.NoPen)
        for i, lane in enumerate(v.blocks):
            top = self.lane_top(i) + 4
            h = LANE_H - 8
            base = colour(v.lanes[i]["app"])
            light = QColor(base)
            light.setAlpha(110)
            lo = bisect.bisect_left(v.starts[i], t0 - v.longest[i])
            hi = bisect.bisect_right(v.starts[i], t1)
            drawn_to = -1.0
            for b in lane[lo:hi]:
                if b.e < t0:
                    continue
                x0, x1 = self.x_of(b.s), self.x_of(b.e)
                if x1 <= drawn_to:
                    continue  # within a pixel already painted
                x0 = max(x0, drawn_to)
                # Solid where the user typed, clicked or scrolled; lighter where they only read.
                busy = b.d.get("active_s", 0) > 0.5 * max(1.0, b.e - b.s)
                p.setBrush(base if busy else light)
                p.drawRect(QRectF(x0, top, max(1.0, x1 - x0), h))
                drawn_to = max(drawn_to, x0 + max(1.0, x1 - x0))
        for b, pen in ((self.hover, QPen(QColor(40, 40, 40), 1)), (self.selected, QPen(QColor(0, 0, 0), 2))):
            if b is not None:
                p.setPen(pen)
                p.setBrush(Qt.NoBrush)
                x0, x1 = self.x_of(b.s), self.x_of(b.e)
                p.drawRect(QRectF(x0, self.lane_top(b.lane) + 3, max(2.0, x1 - x0), LANE_H - 6))
        if 0 < v.now_s < v.span_s and t0 <= v.now_s <= t1:  # today: where now is
            p.setPen(QPen(QColor(208, 44, 44), 1.5))
            x = self.x_of(v.now_s)
            p.drawLine(QPointF(x, AXIS_H - 4), QPointF(x, bottom))
        p.setClipping(False)
        # Lane labels: the app's colour, name and time on screen.
        p.setFont(self.font())
        for i, lane in enumerate(v.lanes):
            top = self.lane_top(i)
            p.fillRect(QRectF(0, top, LABEL_W - 4, LANE_H), pal.base() if i % 2 == 0 else pal.alternateBase())
            p.setPen(Qt.NoPen)
            p.setBrush(colour(lane["app"]))
            p.drawRect(QRectF(6, top + 9, 10, LANE_H - 18))
            p.setPen(text_pen)
            label = p.fontMetrics().elidedText(lane["label"], Qt.ElideRight, LABEL_W - 78)
            p.drawText(QRectF(22, top, LABEL_W - 78, LANE_H), Qt.AlignVCenter | Qt.AlignLeft, label)
            p.setPen(QPen(QColor(110, 110, 110)))
            p.drawText(QRectF(LABEL_W - 70, top, 62, LANE_H), Qt.AlignVCenter | Qt.AlignRight,
                       duration(lane["total_s"]))
        if not v.lanes:
            p.setPen(text_pen)
            p.drawText(QRectF(left, AXIS_H, right - left, LANE_H * 3), Qt.AlignCenter,
                       "Nothing recorded this day." if not v.gaps else "")
        p.setPen(grid_pen)
        p.drawLine(QPointF(left, AXIS_H - 4), QPointF(right, AXIS_H - 4))
        p.setFont(small)
        p.setPen(QPen(QColor(120, 120, 120)))
        p.drawText(QRectF(left, bottom + GAP_H, right - left, GAP_H), Qt.AlignRight | Qt.AlignVCenter, LEGEND)
        p.end()


class AppBars(QWidget):
    """Time per app as horizontal bars: active (solid) and passive (light), longest first."""

    ROW = 22

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[dict] = []
        self.setMinimumHeight(120)

    def set_totals(self, rows: list[dict]) -> None:
        self.rows = rows[:12]
        self.setMinimumHeight(30 + self.ROW * max(3, len(self.rows)))
        self.setMouseTracking(True)
        self.update()

    def row_at(self, y: float) -> dict | None:
        i = int((y - 26) // self.ROW)
        return self.rows[i] if y >= 26 and i < len(self.rows) else None

    def mouseMoveEvent(self, event) -> None:
        """Over an app's bar: its activities (documents), the longest first."""
        r = self.row_at(event.position().y())
        if r is None:
            QToolTip.hideText()
            return
        lines = [(f"<b>{_esc(r['label'])}</b>: {duration(r['total_s'])}, {duration(r['active_s'])} active, "
                 f"{duration(r['passive_s'])} passive")]
        for a in r.get("activities", [])[:8]:
            lines.append(f"{_esc(a['title'][:60]) or '(no title)'}: {duration(a['total_s'])} "
                         f"({duration(a['active_s'])} active)")
        QToolTip.showText(event.globalPosition().toPoint(), "<br>".join(lines), self)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        pal = self.palette()
        p.fillRect(self.rect(), pal.base())
        text_pen = QPen(pal.text().color())
        label_w, value_w = 110, 150
        area_w = max(10, self.width() - label_w - value_w - 16)
        most = max((r["total_s"] for r in self.rows), default=0) or 1
        p.setPen(text_pen)
        if not self.rows:
            p.drawText(self.rect(), Qt.AlignCenter, "No time recorded.")
            p.end()
            return
        # The legend.
        x = label_w
        for name, alpha in (("active (input)", 255), ("passive (reading)", 110)):
            c = QColor(90, 90, 90)
            c.setAlpha(alpha)
            p.fillRect(QRectF(x, 6, 12, 10), c)
            p.drawText(QRectF(x + 16, 0, 130, 22), Qt.AlignVCenter | Qt.AlignLeft, name)
            x += 140
        for i, r in enumerate(self.rows):
            top = 26 + i * self.ROW
            base = colour(r["app"])
            light = QColor(base)
            light.setAlpha(110)
            p.setPen(text_pen)
            label = p.fontMetrics().elidedText(r["label"], Qt.ElideRight, label_w - 8)
            p.drawText(QRectF(4, top, label_w - 8, self.ROW), Qt.AlignVCenter | Qt.AlignLeft, label)
            w_active = area_w * r["active_s"] / most
            w_all = area_w * r["total_s"] / most
            p.fillRect(QRectF(label_w, top + 4, w_active, self.ROW - 8), base)
            p.fillRect(QRectF(label_w + w_active, top + 4, max(0.0, w_all - w_active), self.ROW - 8), light)
            p.drawText(QRectF(label_w + area_w + 8, top, value_w, self.ROW), Qt.AlignVCenter | Qt.AlignLeft,
                       f"{duration(r['total_s'])}  ({duration(r['active_s'])} active)")
        p.end()


class TimelineView(QWidget):
    """The tab: day navigation, the canvas, the selected segment, what gum learned, time per app."""

    loaded = Signal(object)  # the DayView
    load_failed = Signal(str)
    proposition_requested = Signal(int, int)  # proposition id, the segment (observation) it came from

    def __init__(self, api, parent=None):
        super().__init__(parent)
        from ..qtfix import keep_none_alive

        keep_none_alive()  # a day of thousands of blocks is thousands of calls a paint (ui/qtfix.py)
        self.api = api
        self.view: DayView | None = None
        self._serial = 0
        self._wanted = False
        layout = QVBoxLayout(self)

        bar = QHBoxLayout()
        self.prev_button = QPushButton("◀")
        self.prev_button.setToolTip("The day before")
        self.date = QDateEdit(QDate.currentDate())
        self.date.setCalendarPopup(True)
        self.date.setDisplayFormat("ddd d MMM yyyy")
        self.next_button = QPushButton("▶")
        self.next_button.setToolTip("The day after")
        self.today_button = QPushButton("Today")
        self.summary = QLabel()
        # A long message (the agent cannot be reached) must not widen the window: it is cut, and in full as tip.
        self.summary.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.zoom_out = QPushButton("−")
        self.zoom_in = QPushButton("+")
        self.fit_button = QPushButton("Fit")
        for b, tip in ((self.zoom_out, "Zoom out (Ctrl+wheel)"), (self.zoom_in, "Zoom in (Ctrl+wheel)"),
                       (self.fit_button, "Show the part of the day with activity")):
            b.setToolTip(tip)
            b.setFixedWidth(44)
        for b in (self.prev_button, self.next_button):
            b.setFixedWidth(44)
        for w in (self.prev_button, self.date, self.next_button, self.today_button):
            bar.addWidget(w)
        bar.addWidget(self.summary, 1)
        for w in (self.zoom_out, self.zoom_in, self.fit_button):
            bar.addWidget(w)
        layout.addLayout(bar)

        self.canvas = TimelineCanvas()
        self.scroll = QScrollBar(Qt.Horizontal)
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.canvas, 1)
        tl.addWidget(self.scroll)

        # Below: the selected segment | what gum learned | time per app.
        self.detail = QLabel("Hover over a block to see what it was; click it to keep it here.")
        self.detail.setWordWrap(True)
        self.detail.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.detail.setTextFormat(Qt.RichText)
        self.evidence_for = QListWidget()
        self.evidence_for.setToolTip("Click a proposition to open it in the Memory tab.")
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(heading("Selected"))
        ll.addWidget(self.detail)
        ll.addWidget(QLabel("Evidence for (click to open):"))
        ll.addWidget(self.evidence_for, 1)

        self.learned = QTreeWidget()
        self.learned.setHeaderLabels(["Activity, then the proposition", "What happened"])
        self.learned.setColumnWidth(0, 320)
        self.learned.header().setStretchLastSection(False)
        self.learned.header().setSectionResizeMode(0, QHeaderView.Stretch)
        self.learned.header().setSectionResizeMode(1, QHeaderView.ResizeToContents)
        middle = QWidget()
        ml = QVBoxLayout(middle)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.addWidget(heading("What gum learned this day"))
        ml.addWidget(self.learned, 1)

        self.period = QComboBox()
        self.period.addItems(["This day", "7 days to this day"])
        self.bars = AppBars()
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.addWidget(heading("Time per app"))
        head.addStretch(1)
        head.addWidget(self.period)
        rl.addLayout(head)
        rl.addWidget(self.bars, 1)

        lower = QSplitter(Qt.Horizontal)
        for w in (left, middle, right):
            lower.addWidget(w)
        lower.setSizes([360, 420, 420])
        split = QSplitter(Qt.Vertical)
        split.addWidget(top)
        split.addWidget(lower)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        self.split = split
        layout.addWidget(split, 1)

        self.prev_button.clicked.connect(lambda: self.set_day(self.day() - timedelta(days=1)))
        self.next_button.clicked.connect(lambda: self.set_day(self.day() + timedelta(days=1)))
        self.today_button.clicked.connect(lambda: self.set_day(date.today()))
        self.date.dateChanged.connect(lambda _: self.load())
        self.zoom_in.clicked.connect(lambda: self.canvas.zoom(0.5))
        self.zoom_out.clicked.connect(lambda: self.canvas.zoom(2.0))
        self.fit_button.clicked.connect(self._fit)
        self.canvas.view_changed.connect(self._sync_scrollbar)
        self.canvas.block_selected.connect(self._on_block)
        self.scroll.valueChanged.connect(lambda v: self.canvas.scroll_to(float(v)))
        self.evidence_for.itemClicked.connect(self._open_item)
        self.learned.itemClicked.connect(self._open_learned)
        self.period.currentIndexChanged.connect(lambda _: self._show_bars())

    # -- loading -------------------------------------------------------------------------------------

    def day(self) -> date:
        return self.date.date().toPython()

    def set_day(self, day: date) -> None:
        """Show `day` (loads it from the agent)."""
        if day == self.day():
            self.load()
        else:
            self.date.setDate(QDate(day.year, day.month, day.day))  # dateChanged loads it

    def ensure_loaded(self) -> None:
        """Load the day once the tab is first shown."""
        if self.view is None:
            self.load()

    def load(self) -> None:
        self._serial += 1
        serial = self._serial
        day = self.day()
        self.next_button.setEnabled(day < date.today())
        self.summary.setText(f"Loading {day:%A %d %B}…")
        call = self.api.call("timeline", day.isoformat())
        call.done.connect(lambda d: serial == self._serial and self.show_day(d))
        call.failed.connect(lambda status, msg: serial == self._serial and self._failed(msg))

    def _failed(self, message: str) -> None:
        self.summary.setText(f"Could not load the timeline: {message}")
        self.summary.setToolTip(message)
        self.load_failed.emit(message)

    def show_day(self, d: dict) -> None:
        """Draw a day as GET /v1/timeline answers it."""
        self.view = DayView.of(d)
        self.canvas.set_day(self.view)
        recorded = d["recorded_s"]
        basis = "" if d["active_basis"] == "input" else " (from the segments' input counts)"
        not_rec = sum(b - a for a, b, k in self.view.gaps if k != "idle")
        self.summary.setText(
            f"<b>{duration(recorded)}</b> on screen · {duration(d['active_s'])} active{basis}"
            + (f" · {duration(not_rec)} not recorded" if not_rec else "")
            + f" · {sum(len(lane['blocks']) for lane in d['lanes'])} activities")
        self._show_learned()
        self._show_bars()
        self._on_block(None)
        log.info("timeline: %s shown, %d activities in %d lanes", d["day"], len(self.view.by_id), len(d["lanes"]))
        # The lanes get the height they need (within reason); the panes below take the rest.
        need = self.canvas.sizeHint().height() + self.scroll.sizeHint().height() + 4
        total = sum(self.split.sizes()) or self.height()
        top = min(need, int(total * 0.6))
        self.split.setSizes([top, max(0, total - top)])
        self.loaded.emit(self.view)

    def _show_bars(self) -> None:
        if self.view is not None:
            self.bars.set_totals(self.view.raw["totals" if self.period.currentIndex() == 0 else "week"])

    def _show_learned(self) -> None:
        self.learned.clear()
        v = self.view
        groups: dict[int | None, list[dict]] = {}
        for e in v.raw["learned"]:
            for seg in e["segments"] or [None]:
                groups.setdefault(seg if seg in v.by_id else None, []).append(e)
        order = sorted((k for k in groups if k is not None), key=lambda k: v.by_id[k].s) + (
            [None] if None in groups else [])
        for seg in order:
            if seg is None:
                head = QTreeWidgetItem(["Not from an activity of this day", ""])
            else:
                b = v.by_id[seg]
                head = QTreeWidgetItem([(f"{clock(v.start + timedelta(seconds=b.s))} "
                                        f"{v.lanes[b.lane]['label']} — {b.d.get('title') or ''}"), ""])
                head.setData(0, ROLE_BLOCK, seg)
            for e in groups[seg]:
                text = e["text"] or "(rejected or revoked: not shown)"
                child = QTreeWidgetItem([f"#{e['proposition_id']} {text}", e["action"]])
                child.setToolTip(0, text)
                if e["text"]:
                    child.setData(0, ROLE_PROP, e["current_id"] or e["proposition_id"])
                    child.setData(0, ROLE_BLOCK, seg)
                head.addChild(child)
            self.learned.addTopLevelItem(head)
            head.setExpanded(True)
        if not v.raw["learned"]:
            self.learned.addTopLevelItem(QTreeWidgetItem(["Nothing new this day.", ""]))

    # -- selection -----------------------------------------------------------------------------------

    def _on_block(self, d: dict | None) -> None:
        self.evidence_for.clear()
        if d is None or self.view is None:
            self.detail.setText("Hover over a block to see what it was; click it to keep it here.")
            return
        self.detail.setText(describe(self.view, self.view.by_id[d["id"]], evidence=False))
        log.info("timeline: activity #%s selected", d["id"])
        for pid in d.get("propositions") or []:
            p = self.view.props.get(pid)
            item = QListWidgetItem(f"#{pid} {p['text'] if p else ''}")
            item.setData(ROLE_PROP, pid)
            item.setData(ROLE_BLOCK, d["id"])
            self.evidence_for.addItem(item)
        if not d.get("propositions"):
            self.evidence_for.addItem(QListWidgetItem("Nothing gum believes rests on this activity."))

    def _open_item(self, item: QListWidgetItem) -> None:
        pid = item.data(ROLE_PROP)
        if pid is not None:
            self.proposition_requested.emit(int(pid), int(item.data(ROLE_BLOCK)))

    def _open_learned(self, item: QTreeWidgetItem, column: int) -> None:
        pid, seg = item.data(0, ROLE_PROP), item.data(0, ROLE_BLOCK)
        if pid is not None:
            self.proposition_requested.emit(int(pid), int(seg) if seg is not None else 0)
        elif seg is not None:
            self.canvas.select(int(seg))

    # -- the view ------------------------------------------------------------------------------------

    def _fit(self) -> None:
        if self.view is not None:
            self.canvas.fit_activity()
            self.canvas.update()
            self._sync_scrollbar()

    def _sync_scrollbar(self) -> None:
        c = self.canvas
        span = c.view.span_s if c.view else 86400
        self.scroll.blockSignals(True)
        self.scroll.setRange(0, int(max(0, span - c.visible_s)))
        self.scroll.setPageStep(int(c.visible_s))
        self.scroll.setSingleStep(int(c.visible_s / 20) or 1)
        self.scroll.setValue(int(c.first_s))
        self.scroll.blockSignals(False)


