"""The right side of the Memory window: one proposition's reasoning, evidence and history, and its actions.

Edit and revoke open inline (no modal dialog): the user sees what will happen and confirms in place.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .proposition_model import age_text, parse_time

THUMB = QSize(96, 54)


def _local_time(value) -> str:
    t = parse_time(value)
    return t.astimezone().strftime("%b %d %H:%M") if t else "?"


def _excerpt(text: str, n: int = 160) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= n else flat[: n - 1] + "…"


def _thumbnail(pix: QPixmap) -> QPixmap:
    """The screenshot scaled down, with a thin frame (screens are often white on a white list)."""
    thumb = pix.scaled(THUMB, Qt.KeepAspectRatio, Qt.SmoothTransformation)
    painter = QPainter(thumb)
    painter.setPen(QColor(120, 120, 120))
    painter.drawRect(0, 0, thumb.width() - 1, thumb.height() - 1)
    painter.end()
    return thumb


class DetailPane(QWidget):
    """Shows one proposition in full and offers confirm / reject / edit / revoke."""

    confirm_requested = Signal(int)
    reject_requested = Signal(int)
    edit_requested = Signal(int, str, int)  # id, new text, new confidence
    revoke_requested = Signal(int, bool)  # id, with evidence

    def __init__(self, parent=None):
        super().__init__(parent)
        self.prop: dict | None = None
        self._highlight: tuple[int, int | None] | None = None  # (proposition, observation) to mark
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 0, 0, 0)

        self.title = QLabel("Select a proposition to see why gum believes it.")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        f = self.title.font()
        f.setPointSizeF(f.pointSizeF() * 1.2)
        f.setBold(True)
        self.title.setFont(f)
        self.meta = QLabel()
        self.meta.setWordWrap(True)
        self.meta.setStyleSheet("color: palette(mid);")
        layout.addWidget(self.title)
        layout.addWidget(self.meta)

        buttons = QHBoxLayout()
        self.confirm_button = QPushButton("Confirm")
        self.confirm_button.setToolTip("It is true.")
        self.reject_button = QPushButton("Reject")
        self.reject_button.setToolTip("It is false: hide it and never infer it again.")
        self.edit_button = QPushButton("Edit…")
        self.revoke_button = QPushButton("Revoke…")
        self.revoke_button.setToolTip("Forget it: hidden everywhere and never inferred again.")
        for b in (self.confirm_button, self.reject_button, self.edit_button, self.revoke_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.confirm_button.clicked.connect(lambda: self.prop and self.confirm_requested.emit(self.prop["id"]))
        self.reject_button.clicked.connect(lambda: self.prop and self.reject_requested.emit(self.prop["id"]))
        self.edit_button.clicked.connect(self.open_editor)
        self.revoke_button.clicked.connect(self.open_revoke)

        # Inline editor.
        self.editor = QFrame()
        self.editor.setFrameShape(QFrame.StyledPanel)
        ed = QVBoxLayout(self.editor)
        self.edit_text = QPlainTextEdit()
        self.edit_text.setFixedHeight(64)
        self.edit_confidence = QSpinBox()
        self.edit_confidence.setRange(1, 10)
        self.edit_confidence.setPrefix("Confidence ")
        self.edit_confidence.setSuffix("/10")
        row = QHBoxLayout()
        row.addWidget(self.edit_confidence)
        row.addStretch(1)
        self.edit_save = QPushButton("Save")
        self.edit_cancel = QPushButton("Cancel")
        row.addWidget(self.edit_save)
        row.addWidget(self.edit_cancel)
        ed.addWidget(QLabel("Your wording (gum will not overwrite it):"))
        ed.addWidget(self.edit_text)
        ed.addLayout(row)
        self.edit_save.clicked.connect(self._save_edit)
        self.edit_cancel.clicked.connect(self.editor.hide)
        self.editor.hide()
        layout.addWidget(self.editor)

        # Inline revoke confirmation: revoking cannot be undone, so it is asked here first.
        self.revoker = QFrame()
        self.revoker.setFrameShape(QFrame.StyledPanel)
        rv = QVBoxLayout(self.revoker)
        note = QLabel("Forget this for good? It is hidden everywhere and gum will never infer it again. "
                      "This cannot be undone.")
        note.setWordWrap(True)
        self.revoke_evidence = QCheckBox("Also delete the observations behind it")
        row = QHBoxLayout()
        row.addWidget(self.revoke_evidence)
        row.addStretch(1)
        self.revoke_go = QPushButton("Revoke")
        self.revoke_cancel = QPushButton("Cancel")
        row.addWidget(self.revoke_go)
        row.addWidget(self.revoke_cancel)
        rv.addWidget(note)
        rv.addLayout(row)
        self.revoke_go.clicked.connect(self._revoke)
        self.revoke_cancel.clicked.connect(self.revoker.hide)
        self.revoker.hide()
        layout.addWidget(self.revoker)

        self.reasoning = QLabel()
        self.reasoning.setWordWrap(True)
        self.reasoning.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addWidget(heading("Why"))
        layout.addWidget(self.reasoning)

        layout.addWidget(heading("Evidence"))
        self.evidence = QTreeWidget()
        self.evidence.setHeaderLabels(["Time", "App", "Window", "What was seen"])
        self.evidence.setRootIsDecorated(False)
        self.evidence.setIconSize(THUMB)
        self.evidence.setWordWrap(True)
        self.evidence.setColumnWidth(0, 88)
        self.evidence.setColumnWidth(1, 70)
        self.evidence.setColumnWidth(2, 110)
        self.evidence.header().setSectionResizeMode(3, QHeaderView.Stretch)
        self.evidence.header().setMinimumSectionSize(40)
        layout.addWidget(self.evidence, 3)

        layout.addWidget(heading("History"))
        self.history = QTreeWidget()
        self.history.setHeaderLabels(["Version", "Status", "Confidence", "Text", "Updated"])
        self.history.setRootIsDecorated(False)
        self.history.setColumnWidth(0, 54)
        self.history.setColumnWidth(1, 78)
        self.history.setColumnWidth(2, 76)
        self.history.setColumnWidth(4, 100)
        self.history.header().setSectionResizeMode(3, QHeaderView.Stretch)
        self.history.header().setStretchLastSection(False)
        layout.addWidget(self.history, 2)
        self.set_enabled_actions(False)


    # -- content -------------------------------------------------------------------------------------

    def set_enabled_actions(self, enabled: bool) -> None:
        for b in (self.confirm_button, self.reject_button, self.edit_button, self.revoke_button):
            b.setEnabled(enabled)

    def clear(self) -> None:
        self.prop = None
        self.title.setText("Select a proposition to see why gum believes it.")
        self.meta.clear()
        self.reasoning.clear()
        self.evidence.clear()
        self.history.clear()
        self.editor.hide()
        self.revoker.hide()
        self.set_enabled_actions(False)

    def show_summary(self, p: dict) -> None:
        """What the list already knows, while the full detail loads."""
        if self.prop is None or self.prop.get("id") != p.get("id"):
            self.editor.hide()
            self.revoker.hide()
        self.prop = p
        self.title.setText(p.get("text", ""))
        self.meta.setText(self._meta_text(p))
        self.set_enabled_actions(p.get("status", "active") == "active")
        self.confirm_button.setText("Confirmed ✓" if p.get("feedback") == "confirmed" else "Confirm")

    def show_detail(self, d: dict) -> None:
        """The full proposition from GET /v1/propositions/{id}."""
        self.show_summary(d)
        self.reasoning.setText(d.get("reasoning") or "—")
        self.evidence.clear()
        for o in d.get("evidence") or []:
            item = QTreeWidgetItem([_local_time(o.get("ts")), o.get("app") or o.get("observer") or "",
                                    o.get("window") or "", _excerpt(o.get("text", ""))])
            item.setToolTip(3, _excerpt(o.get("text", ""), 1200))
            path = o.get("image_path")
            if path and os.path.exists(path):
                pix = QPixmap(path)
                if not pix.isNull():
                    item.setIcon(3, QIcon(_thumbnail(pix)))
            self.evidence.addTopLevelItem(item)
        self._mark_highlight(d)
        if not d.get("evidence"):
            none = "No observations (added by hand, or deleted)."
            self.evidence.addTopLevelItem(QTreeWidgetItem(["", "", "", none]))
        self.history.clear()
        for h in d.get("history") or []:
            item = QTreeWidgetItem([f"v{h.get('version')}", h.get("status", ""), f"{h.get('confidence')}/10",
                                    h.get("text", ""), _local_time(h.get("updated_at"))])
            item.setToolTip(3, h.get("text", ""))
            if h.get("id") == d.get("id"):
                f = item.font(0)
                f.setBold(True)
                for c in range(5):
                    item.setFont(c, f)
            self.history.addTopLevelItem(item)

    def highlight_evidence(self, prop_id: int, observation_id: int | None) -> None:
        """When `prop_id`'s detail shows, mark the evidence row of `observation_id` (the timeline's segment)."""
        self._highlight = (prop_id, observation_id)

    def highlighted(self) -> QTreeWidgetItem | None:
        """The evidence row marked for the timeline's segment, if one is."""
        for i in range(self.evidence.topLevelItemCount()):
            item = self.evidence.topLevelItem(i)
            if item.data(0, Qt.UserRole + 1):
                return item
        return None

    def _mark_highlight(self, d: dict) -> None:
        if self._highlight is None or self._highlight[0] != d.get("id") or self._highlight[1] is None:
            return
        for i, o in enumerate(d.get("evidence") or []):
            if o.get("id") == self._highlight[1]:
                item = self.evidence.topLevelItem(i)
                item.setData(0, Qt.UserRole + 1, True)
                for c in range(4):
                    item.setBackground(c, QColor(255, 236, 150))
                item.setToolTip(0, "The activity you came from in the Timeline")
                self.evidence.setCurrentItem(item)
                self.evidence.scrollToItem(item)

    @staticmethod
    def _meta_text(p: dict) -> str:
        bits = [f"#{p.get('id')} · confidence {p.get('confidence')}/10 · lasts {p.get('decay')}/10",
                f"{p.get('evidence_count', 0)} evidence",
                f"updated {age_text(parse_time(p.get('updated_at')))} ago"]
        if p.get("version", 1) > 1:
            bits.append(f"version {p['version']}")
        if p.get("edited"):
            bits.append("edited by you")
        if p.get("source") == "user":
            bits.append("added by you")
        if p.get("feedback"):
            bits.append(p["feedback"])
        if p.get("status", "active") != "active":
            bits.append(p["status"].upper())
        return " · ".join(bits)

    # -- actions -------------------------------------------------------------------------------------

    def open_editor(self) -> None:
        if not self.prop:
            return
        self.revoker.hide()
        self.edit_text.setPlainText(self.prop.get("text", ""))
        self.edit_confidence.setValue(int(self.prop.get("confidence") or 5))
        self.editor.show()
        self.edit_text.setFocus()

    def _save_edit(self) -> None:
        text = self.edit_text.toPlainText().strip()
        if not self.prop or not text:
            return
        self.editor.hide()
        self.edit_requested.emit(self.prop["id"], text, self.edit_confidence.value())

    def open_revoke(self) -> None:
        if not self.prop:
            return
        self.editor.hide()
        self.revoke_evidence.setChecked(False)
        self.revoker.show()

    def _revoke(self) -> None:
        if not self.prop:
            return
        self.revoker.hide()
        self.revoke_requested.emit(self.prop["id"], self.revoke_evidence.isChecked())


def heading(text: str) -> QLabel:
    """A bold label over a section of a pane."""
    label = QLabel(text)
    f = label.font()
    f.setBold(True)
    label.setFont(f)
    return label
