"""The calibration plot: for each confidence level, the share of propositions the user confirmed.

If gum's confidence can be trusted, the bars follow the diagonal: 80% of what it rates 8/10 is confirmed.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


def shares(levels: list[dict]) -> dict[int, tuple[float, int]]:
    """{confidence: (share confirmed, number judged)} for levels the user judged at least once."""
    out = {}
    for lv in levels:
        confirmed = int(lv.get("confirmed") or 0)
        rejected = int(lv.get("rejected") or 0)
        n = confirmed + rejected
        if n:
            out[int(lv["confidence"])] = (confirmed / n, n)
    return out


class CalibrationPlot(QWidget):
    """Bars of share confirmed per confidence level 1-10, with the ideal diagonal."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.data: dict[int, tuple[float, int]] = {}
        self.setMinimumSize(360, 240)

    def set_levels(self, levels: list[dict]) -> None:
        self.data = shares(levels)
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.fillRect(self.rect(), self.palette().base())
        left, bottom, top, right = 48, 36, 16, 16
        area = QRectF(left, top, self.width() - left - right, self.height() - top - bottom)
        text_pen = QPen(self.palette().text().color())
        p.setPen(QPen(QColor(170, 170, 170)))
        for i in range(0, 101, 25):  # horizontal grid with percentages
            y = area.bottom() - area.height() * i / 100
            p.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            p.setPen(text_pen)
            p.drawText(QRectF(0, y - 8, left - 6, 16), Qt.AlignRight | Qt.AlignVCenter, f"{i}%")
            p.setPen(QPen(QColor(170, 170, 170)))
        slot = area.width() / 10
        for level in range(1, 11):
            x = area.left() + (level - 1) * slot
            p.setPen(text_pen)
            p.drawText(QRectF(x, area.bottom() + 4, slot, 16), Qt.AlignCenter, str(level))
            if level in self.data:
                share, n = self.data[level]
                h = area.height() * share
                p.setPen(Qt.NoPen)
                p.setBrush(QColor(33, 118, 214))
                p.drawRect(QRectF(x + slot * 0.2, area.bottom() - h, slot * 0.6, h))
                p.setPen(text_pen)
                p.drawText(QRectF(x, area.bottom() - h - 16, slot, 14), Qt.AlignCenter, f"n={n}")
        # The ideal: a proposition rated k/10 is confirmed k times in 10.
        pen = QPen(QColor(208, 44, 44))
        pen.setStyle(Qt.DashLine)
        pen.setWidthF(1.5)
        p.setPen(pen)
        p.drawLine(QPointF(area.left() + slot * 0.5, area.bottom() - area.height() * 0.1),
                   QPointF(area.right() - slot * 0.5, area.top()))
        p.setPen(text_pen)
        p.drawText(QRectF(area.left(), area.bottom() + 18, area.width(), 16), Qt.AlignCenter,
                   "gum's confidence (1-10)")
        if not self.data:
            p.drawText(area, Qt.AlignCenter, "No feedback yet: confirm or reject propositions to see\n"
                                             "whether gum's confidence can be trusted.")
        p.end()


class CalibrationView(QWidget):
    """The plot with a line of explanation."""

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.plot = CalibrationPlot()
        layout.addWidget(QLabel("Share of propositions you confirmed, per confidence gum gave them. "
                                "Bars near the dashed line mean gum's confidence can be trusted."))
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.summary)

    def set_levels(self, levels: list[dict]) -> None:
        self.plot.set_levels(levels)
        confirmed = sum(int(lv.get("confirmed") or 0) for lv in levels)
        rejected = sum(int(lv.get("rejected") or 0) for lv in levels)
        self.summary.setText(f"{confirmed} confirmed, {rejected} rejected so far.")
