"""The Memory window's list: propositions as a sortable, filterable table model, and the confidence bar."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QRect, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QStyle, QStyledItemDelegate

COLUMNS = ("", "Proposition", "Confidence", "Lasts", "Age", "Evidence")
MARK, TEXT, CONFIDENCE, DECAY, AGE, EVIDENCE = range(6)
SORT_ROLE = Qt.UserRole + 1
PROP_ROLE = Qt.UserRole + 2


def parse_time(value) -> datetime | None:
    """A UTC datetime from the API's ISO text; None for nothing or for text that is not a time."""
    from gum.times import parse_time as read

    try:
        return read(value or None)
    except (ValueError, TypeError):
        return None


def age_text(dt: datetime | None, now: datetime | None = None) -> str:
    """'3d', '5h', '12m' or 'now'."""
    if dt is None:
        return "?"
    secs = max(0.0, ((now or datetime.now(timezone.utc)) - dt).total_seconds())
    for unit, size in (("y", 365 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{int(secs // size)}{unit}"
    return "now"


def mark_of(p: dict, last_seen: datetime | None) -> str:
    """'new' or 'revised' since the user last looked, else ''."""
    if last_seen is None:
        return ""
    updated = parse_time(p.get("updated_at"))
    created = parse_time(p.get("created_at"))
    if created and created > last_seen and (p.get("version") or 1) == 1:
        return "new"
    if updated and updated > last_seen:
        return "revised"
    return ""


class PropositionModel(QAbstractTableModel):
    """Rows of proposition dicts (the API's P) in the order the API gave them (its ranking)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[dict] = []
        self.last_seen: datetime | None = None

    def set_rows(self, rows: list[dict]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def replace(self, old_id: int, new: dict | None) -> None:
        """Put an updated proposition in place of `old_id` (None removes the row)."""
        for i, p in enumerate(self.rows):
            if p["id"] == old_id:
                if new is None or new.get("status", "active") != "active":
                    self.beginRemoveRows(QModelIndex(), i, i)
                    del self.rows[i]
                    self.endRemoveRows()
                else:
                    self.rows[i] = new
                    self.dataChanged.emit(self.index(i, 0), self.index(i, len(COLUMNS) - 1))
                return
        if new is not None and new.get("status", "active") == "active":
            self.beginInsertRows(QModelIndex(), 0, 0)
            self.rows.insert(0, new)
            self.endInsertRows()

    def row_of(self, prop_id: int) -> int:
        for i, p in enumerate(self.rows):
            if p["id"] == prop_id:
                return i
        return -1

    # -- Qt ------------------------------------------------------------------------------------------

    def rowCount(self, parent=None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.rows)

    def columnCount(self, parent=None) -> int:
        return 0 if parent is not None and parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        p = self.rows[index.row()]
        col = index.column()
        if role == PROP_ROLE:
            return p
        if role == Qt.DisplayRole:
            if col == MARK:
                return mark_of(p, self.last_seen)
            if col == TEXT:
                return p.get("text", "")
            if col == CONFIDENCE:
                return p.get("confidence")
            if col == DECAY:
                return f"{p.get('decay', '?')}/10"
            if col == AGE:
                return age_text(parse_time(p.get("updated_at")))
            if col == EVIDENCE:
                return p.get("evidence_count", 0)
        if role == SORT_ROLE:
            if col == MARK:
                return {"new": 2, "revised": 1}.get(mark_of(p, self.last_seen), 0)
            if col == TEXT:
                return p.get("text", "").lower()
            if col == CONFIDENCE:
                return p.get("confidence") or 0
            if col == DECAY:
                return p.get("decay") or 0
            if col == AGE:  # newest first when ascending: sort on seconds of age
                t = parse_time(p.get("updated_at"))
                return -(t.timestamp() if t else 0)
            if col == EVIDENCE:
                return p.get("evidence_count") or 0
        if role == Qt.ToolTipRole:
            bits = [p.get("text", "")]
            if p.get("edited"):
                bits.append("Edited by you.")
            if p.get("feedback") == "confirmed":
                bits.append("You confirmed it.")
            return "\n".join(bits)
        if role == Qt.FontRole and mark_of(p, self.last_seen):
            f = QFont()
            f.setBold(True)
            return f
        if role == Qt.ForegroundRole and col == MARK:
            return QBrush(QColor(33, 118, 214))
        if role == Qt.TextAlignmentRole and col in (DECAY, AGE, EVIDENCE):
            return int(Qt.AlignRight | Qt.AlignVCenter)
        return None


class PropositionFilter(QSortFilterProxyModel):
    """Filters by minimum confidence and by how recently a proposition was updated."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.min_confidence = 1
        self.max_age: timedelta | None = None
        self.setSortRole(SORT_ROLE)

    def set_min_confidence(self, value: int) -> None:
        self._change(lambda: setattr(self, "min_confidence", int(value)))

    def set_max_age(self, age: timedelta | None) -> None:
        self._change(lambda: setattr(self, "max_age", age))

    def _change(self, apply) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.9+; invalidateFilter() is deprecated there
            self.beginFilterChange()
            apply()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            apply()
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent) -> bool:
        p = self.sourceModel().rows[row]
        if (p.get("confidence") or 0) < self.min_confidence:
            return False
        if self.max_age is not None:
            t = parse_time(p.get("updated_at"))
            if t is None or datetime.now(timezone.utc) - t > self.max_age:
                return False
        return True


class ConfidenceBar(QStyledItemDelegate):
    """Draws confidence 1-10 as a bar with the number on it."""

    def paint(self, painter, option, index):
        value = index.data(Qt.DisplayRole)
        if value is None:
            return super().paint(painter, option, index)
        painter.save()
        if option.state & QStyle.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        r = option.rect.adjusted(4, 5, -4, -5)
        painter.setPen(Qt.NoPen)
        painter.setBrush(QColor(220, 220, 220))
        painter.drawRoundedRect(r, 3, 3)
        share = max(0, min(10, int(value))) / 10
        hue = int(share * 120)  # red (unsure) to green (sure)
        painter.setBrush(QColor.fromHsv(hue, 170, 200))
        painter.drawRoundedRect(QRect(r.left(), r.top(), int(r.width() * share), r.height()), 3, 3)
        painter.setPen(QColor(20, 20, 20))
        painter.drawText(r, Qt.AlignCenter, f"{value}/10")
        painter.restore()
