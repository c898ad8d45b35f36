"""The Memory window: what gum believes about the user, why, and the user's corrections.

Every action goes to the agent at once through the API (in a worker); the result replaces the row. What
can be safely undone is kept on an undo stack until the window closes:
- confirm / reject: undone by clearing the feedback (DELETE /v1/propositions/{id}/feedback);
- edit: undone by editing back to the previous text and confidence (a new version, as any edit);
- add by hand: undone by revoking the added proposition;
- revoke is not undoable: forgetting must be final (and its evidence may be deleted), so it is confirmed
  inline before it is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .. import prefs
from .calibration import CalibrationView
from .detail_pane import DetailPane
from .proposition_model import (
    AGE,
    CONFIDENCE,
    DECAY,
    EVIDENCE,
    MARK,
    PROP_ROLE,
    TEXT,
    ConfidenceBar,
    PropositionFilter,
    PropositionModel,
)

log = logging.getLogger("gum.ui.memory")
LIST_LIMIT = 500
TIME_FILTERS = [("Any time", None), ("Last 24 hours", timedelta(days=1)), ("Last 7 days", timedelta(days=7)),
                ("Last 30 days", timedelta(days=30))]


@dataclass
class UndoEntry:
    """An action that can still be taken back, and how."""

    label: str
    undo: Callable[[], object]  # starts the API call; returns the Call


class MemoryWindow(QMainWindow):
    """The searchable list of propositions, the detail pane, and the calibration plot."""

    loaded = Signal(int)  # rows in the list after a load
    detail_loaded = Signal(int)  # proposition id
    action_done = Signal(str, object)  # action, the proposition it produced
    action_failed = Signal(str, str)  # action, message
    undone = Signal(str)  # the undone action's label
    calibration_loaded = Signal(object)
    closed = Signal()
    settings_requested = Signal()

    def __init__(self, api, parent=None):
        super().__init__(parent)
        from ..qtfix import keep_none_alive

        keep_none_alive()  # also when the window is used without the tray app (tests, embedding)
        self.api = api
        self.setWindowTitle("gum — Memory")
        self.resize(1220, 720)
        self.undo_stack: list[UndoEntry] = []
        self._serial = 0
        self._limit = LIST_LIMIT
        self._pending_select: int | None = None

        self.model = PropositionModel(self)
        self.proxy = PropositionFilter(self)
        self.proxy.setSourceModel(self.model)

        central = QWidget()
        outer = QVBoxLayout(central)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("background: #fff4ce; color: #222; padding: 6px; border: 1px solid #e0c060;")
        self.notice.hide()
        outer.addWidget(self.notice)
        self.tabs = QTabWidget()
        outer.addWidget(self.tabs)
        self.setCentralWidget(central)

        # -- the Memory tab: toolbar, add panel, list | detail ---------------------------------------
        page = QWidget()
        layout = QVBoxLayout(page)
        bar = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search what gum believes about you…")
        self.search.setClearButtonEnabled(True)
        self.min_confidence = QSpinBox()
        self.min_confidence.setRange(1, 10)
        self.min_confidence.setPrefix("Confidence ≥ ")
        self.time_filter = QComboBox()
        for label, _ in TIME_FILTERS:
            self.time_filter.addItem(label)
        self.refresh_button = QPushButton("Refresh")
        self.add_button = QPushButton("Add…")
        self.add_button.setToolTip("Tell gum something about you by hand.")
        self.undo_button = QPushButton("Undo")
        self.undo_button.setEnabled(False)
        self.settings_button = QPushButton("Settings…")
        bar.addWidget(self.search, 1)
        bar.addWidget(self.min_confidence)
        bar.addWidget(self.time_filter)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.add_button)
        bar.addWidget(self.undo_button)
        bar.addWidget(self.settings_button)
        layout.addLayout(bar)

        self.add_panel = QFrame()
        self.add_panel.setFrameShape(QFrame.StyledPanel)
        ap = QHBoxLayout(self.add_panel)
        self.add_text = QLineEdit()
        self.add_text.setPlaceholderText("Something true about you, e.g. \"I am learning Rust\"")
        self.add_confidence = QSpinBox()
        self.add_confidence.setRange(1, 10)
        self.add_confidence.setValue(10)
        self.add_confidence.setPrefix("Confidence ")
        self.add_confidence.setSuffix("/10")
        self.add_go = QPushButton("Add")
        self.add_cancel = QPushButton("Cancel")
        for w in (QLabel("Add:"), self.add_text, self.add_confidence, self.add_go, self.add_cancel):
            ap.addWidget(w)
        ap.setStretch(1, 1)
        self.add_panel.hide()
        layout.addWidget(self.add_panel)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.AscendingOrder)  # the API's order (relevance or newest) until asked
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.setItemDelegateForColumn(CONFIDENCE, ConfidenceBar(self.table))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(TEXT, QHeaderView.Stretch)
        for col, width in ((MARK, 62), (CONFIDENCE, 92), (DECAY, 48), (AGE, 44), (EVIDENCE, 62)):
            header.setSectionResizeMode(col, QHeaderView.Fixed)
            self.table.setColumnWidth(col, width)
        self.detail = DetailPane()
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([700, 500])
        layout.addWidget(split, 1)
        self.tabs.addTab(page, "Memory")

        self.calibration = CalibrationView()
        self.tabs.addTab(self.calibration, "Calibration")
        from .timeline_view import TimelineView

        self.timeline = TimelineView(api)
        self.tabs.addTab(self.timeline, "Timeline")

        self.agent_label = QLabel()
        self.message = QLabel()
        self.statusBar().addWidget(self.message, 1)
        self.statusBar().addPermanentWidget(self.agent_label)

        # -- wiring --------------------------------------------------------------------------------
        self._search_timer = QTimer(self, singleShot=True, interval=250)
        self._search_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _: self._search_timer.start())
        self.search.returnPressed.connect(self.refresh)
        self.min_confidence.valueChanged.connect(self.proxy.set_min_confidence)
        self.time_filter.currentIndexChanged.connect(lambda i: self.proxy.set_max_age(TIME_FILTERS[i][1]))
        self.refresh_button.clicked.connect(self.reload_all)
        self.add_button.clicked.connect(self._toggle_add)
        self.add_go.clicked.connect(self._add)
        self.add_text.returnPressed.connect(self._add)
        self.add_cancel.clicked.connect(self.add_panel.hide)
        self.undo_button.clicked.connect(self.undo)
        self.settings_button.clicked.connect(self.settings_requested)
        undo_action = QAction("Undo", self, shortcut=QKeySequence.Undo, triggered=self.undo)
        self.addAction(undo_action)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_changed)
        self.detail.confirm_requested.connect(self.confirm)
        self.detail.reject_requested.connect(self.reject)
        self.detail.edit_requested.connect(self.edit)
        self.detail.revoke_requested.connect(self.revoke)
        self.tabs.currentChanged.connect(lambda i: i == 1 and self.load_calibration())
        self.tabs.currentChanged.connect(lambda i: self.tabs.widget(i) is self.timeline and self.timeline.ensure_loaded())
        self.timeline.proposition_requested.connect(self.show_proposition)

    # -- loading -------------------------------------------------------------------------------------

    def showEvent(self, event) -> None:
        if not event.spontaneous():
            self.model.last_seen = prefs.get_time("memory/last_seen") or (
                datetime.now(timezone.utc) - timedelta(days=1))
            self.reload_all()
        super().showEvent(event)

    def closeEvent(self, event) -> None:
        # Undo is offered only while the window is open: what the user saw is what they decided.
        self.undo_stack.clear()
        self._update_undo()
        prefs.set_time("memory/last_seen", datetime.now(timezone.utc))
        self.closed.emit()
        super().closeEvent(event)

    def reload_all(self) -> None:
        self.refresh()
        self.load_calibration()
        if self.tabs.currentWidget() is self.timeline or self.timeline.view is not None:
            self.timeline.load()

    def refresh(self) -> None:
        """Load the list again: search results when there is a search, else the newest propositions."""
        self._serial += 1
        serial = self._serial
        q = self.search.text().strip()
        if q:
            call = self.api.call("query", q, limit=100)
        else:
            call = self.api.call("recent", limit=self._limit)
        call.done.connect(lambda rows: self._on_loaded(serial, rows))
        call.failed.connect(lambda status, msg: self._on_load_failed(serial, status, msg))
        self.show_message("Loading…")

    def _on_loaded(self, serial: int, rows) -> None:
        if serial != self._serial:
            return  # an older search answered after a newer one was sent
        current = self.selected()
        self.model.set_rows(rows)
        q = self.search.text().strip()
        self.show_message(f"{len(rows)} propositions" + (f" matching “{q}”" if q else ""))
        log.info("memory window: %d propositions listed", len(rows))
        if self._pending_select is not None and self.select(self._pending_select):
            self._pending_select = None
        elif current is not None and self.select(current["id"], load=False):
            pass
        elif self.proxy.rowCount():  # nothing chosen yet: show the first one, so the pane is never empty
            self.table.selectionModel().setCurrentIndex(
                self.proxy.index(0, 0), QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows)
        self.loaded.emit(len(rows))

    def _on_load_failed(self, serial: int, status: int, message: str) -> None:
        if serial != self._serial:
            return
        if status == 400 and self._limit > 100:  # an agent that allows only short lists
            self._limit = 100
            self.refresh()
            return
        self.show_message(f"Could not load: {message}")
        self.action_failed.emit("load", message)

    def load_calibration(self) -> None:
        call = self.api.call("calibration")
        call.done.connect(self._on_calibration)

    def _on_calibration(self, levels) -> None:
        self.calibration.set_levels(levels)
        self.calibration_loaded.emit(levels)

    # -- selection and detail ------------------------------------------------------------------------

    def selected(self) -> dict | None:
        idx = self.table.selectionModel().currentIndex()
        return idx.data(PROP_ROLE) if idx.isValid() else None

    def select(self, prop_id: int, load: bool = True) -> bool:
        """Make `prop_id` the current row (and load its detail). False if it is not in the list."""
        row = self.model.row_of(prop_id)
        if row < 0:
            return False
        idx = self.proxy.mapFromSource(self.model.index(row, 0))
        if not idx.isValid():
            return False
        if not load:
            self.table.selectionModel().blockSignals(True)
        self.table.selectionModel().setCurrentIndex(
            idx, QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows)
        if not load:
            self.table.selectionModel().blockSignals(False)
        self.table.scrollTo(idx)
        return True

    def _on_current_changed(self, current, previous) -> None:
        p = current.data(PROP_ROLE) if current.isValid() else None
        if p is None:
            self.detail.clear()
            return
        self.detail.show_summary(p)
        self.load_detail(p["id"])

    def load_detail(self, prop_id: int) -> None:
        call = self.api.call("get", prop_id)
        call.done.connect(self._on_detail)
        call.failed.connect(lambda s, m: self.show_message(f"Could not load #{prop_id}: {m}"))

    def _on_detail(self, d: dict) -> None:
        cur = self.selected()
        if cur is None or cur["id"] != d.get("id"):
            return  # the user moved on
        self.detail.show_detail(d)
        log.info("memory window: detail of #%s shown", d["id"])
        self.detail_loaded.emit(d["id"])

    # -- actions -------------------------------------------------------------------------------------

    def confirm(self, prop_id: int) -> None:
        self._act("confirm", prop_id, self.api.call("confirm", prop_id),
                  undo=lambda p: UndoEntry(f"confirm #{p['id']}", lambda: self._clear_feedback(p["id"])))

    def reject(self, prop_id: int) -> None:
        self._act("reject", prop_id, self.api.call("reject", prop_id),
                  undo=lambda p: UndoEntry(f"reject #{p['id']}", lambda: self._clear_feedback(p["id"])))

    def edit(self, prop_id: int, text: str, confidence: int) -> None:
        old = self._row(prop_id)
        kwargs = {}
        if old is None or text != old.get("text"):
            kwargs["text"] = text
        if old is None or confidence != old.get("confidence"):
            kwargs["confidence"] = confidence
        if not kwargs:
            return

        def undo(p):
            back = {"text": old["text"], "confidence": old["confidence"]}
            return UndoEntry(f"edit #{prop_id}", lambda: self._undo_call(
                "edit", p["id"], self.api.call("edit", p["id"], **back)))

        self._act("edit", prop_id, self.api.call("edit", prop_id, **kwargs), undo=undo if old else None)

    def revoke(self, prop_id: int, with_evidence: bool) -> None:
        self._act("revoke", prop_id, self.api.call("revoke", prop_id, with_evidence=with_evidence))

    def add(self, text: str, confidence: int) -> None:
        self._act("add", None, self.api.call("add", text, confidence=confidence),
                  undo=lambda p: UndoEntry(f"add #{p['id']}", lambda: self._undo_call(
                      "revoke", p["id"], self.api.call("revoke", p["id"], with_evidence=False))))

    def _toggle_add(self) -> None:
        self.add_panel.setVisible(not self.add_panel.isVisible())
        if self.add_panel.isVisible():
            self.add_text.setFocus()

    def _add(self) -> None:
        text = self.add_text.text().strip()
        if not text:
            return
        self.add_text.clear()
        self.add_panel.hide()
        self.add(text, self.add_confidence.value())

    def _row(self, prop_id: int) -> dict | None:
        row = self.model.row_of(prop_id)
        return self.model.rows[row] if row >= 0 else None

    def _act(self, action: str, prop_id: int | None, call, undo=None) -> None:
        self.show_message(f"{action.capitalize()}…")

        def done(p: dict) -> None:
            self._apply_result(prop_id, p)
            if undo is not None:
                self.undo_stack.append(undo(p))
            self._update_undo()
            past = {"confirm": "Confirmed", "reject": "Rejected", "edit": "Edited", "revoke": "Revoked",
                    "add": "Added"}[action]
            self.show_message(f"{past} #{p.get('id')}: {p.get('text', '')[:80]}"
                              + ("  (Undo: Ctrl+Z)" if undo is not None else ""))
            if action in ("confirm", "reject"):
                self.load_calibration()
            self.action_done.emit(action, p)

        def failed(status: int, message: str) -> None:
            self.show_message(f"Could not {action}: {message}")
            self.action_failed.emit(action, message)

        call.done.connect(done)
        call.failed.connect(failed)

    def _apply_result(self, old_id: int | None, p: dict) -> None:
        """Show what the API answered: the row is replaced (or removed if no longer active)."""
        was_current = (cur := self.selected()) is not None and cur["id"] == old_id
        self.model.replace(old_id if old_id is not None else p["id"], p)
        if p.get("status", "active") == "active" and (was_current or old_id is None):
            if not self.select(p["id"]) or (cur := self.selected()) is None or cur["id"] != p["id"]:
                return
            # The same row stays current (no selection change): refresh the pane ourselves.
            self.detail.show_summary(p)
            self.load_detail(p["id"])
        elif was_current:
            self.detail.clear()

    def _clear_feedback(self, prop_id: int):
        return self._undo_call("clear_feedback", prop_id, self.api.call("clear_feedback", prop_id))

    def _undo_call(self, action: str, prop_id: int, call):
        def done(p: dict) -> None:
            self._apply_result(prop_id, p)
            if action in ("clear_feedback",):
                self.load_calibration()

        call.done.connect(done)
        return call

    def undo(self) -> None:
        """Take back the last action still on the stack."""
        if not self.undo_stack:
            return
        entry = self.undo_stack.pop()
        self._update_undo()
        call = entry.undo()
        self.show_message(f"Undoing {entry.label}…")

        def done(_p) -> None:
            self.show_message(f"Undid {entry.label}.")
            self.undone.emit(entry.label)

        def failed(status: int, message: str) -> None:
            if status in (404, 405, 501):
                message = f"this agent cannot undo that ({message})"
            self.show_message(f"Could not undo {entry.label}: {message}")
            self.action_failed.emit("undo", message)

        call.done.connect(done)
        call.failed.connect(failed)

    def _update_undo(self) -> None:
        self.undo_button.setEnabled(bool(self.undo_stack))
        self.undo_button.setText(f"Undo {self.undo_stack[-1].label}" if self.undo_stack else "Undo")

    # -- status --------------------------------------------------------------------------------------

    def show_timeline(self) -> None:
        """Bring the Timeline tab forward (today, unless another day is showing)."""
        self.tabs.setCurrentWidget(self.timeline)

    def show_proposition(self, prop_id: int, observation_id: int = 0) -> None:
        """The Memory tab with `prop_id` selected and, in its evidence, the observation it was reached from
        highlighted (from the Timeline: the segment clicked)."""
        self.detail.highlight_evidence(prop_id, observation_id or None)
        self.tabs.setCurrentIndex(0)
        was = self.selected()
        if self.select(prop_id):
            if was is not None and was["id"] == prop_id:  # no selection change: show the mark ourselves
                self.load_detail(prop_id)
            return
        # Not in the list (filtered out, or older than the newest LIST_LIMIT): list everything again.
        self._pending_select = prop_id
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        self.time_filter.setCurrentIndex(0)
        self.min_confidence.setValue(1)
        self.refresh()

    def select_when_loaded(self, prop_id: int) -> None:
        """Select `prop_id` now if it is listed, else once the list has loaded."""
        if not self.select(prop_id):
            self._pending_select = prop_id

    def show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def show_message(self, text: str) -> None:
        self.message.setText(text)

    def set_agent_state(self, text: str) -> None:
        self.agent_label.setText(text)
