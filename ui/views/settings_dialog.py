"""The Settings window: model, observers, privacy, data folder, API tokens, delete everything.

The agent's settings are read and written through the API (GET/PUT /v1/settings, written to config.toml and
applied when the agent restarts). The data folder is the tray's own preference: it decides where the agent
it starts keeps its data. The window is not modal: it never blocks the tray.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

OBSERVERS = ("screen", "input", "window", "calendar", "browser", "notifications")
# What each optional observer reads (they are off until checked; their settings are [plugins.NAME] in
# config.toml).
OBSERVER_READS = {
    "calendar": "Reads only the ICS files, folders and feed URLs listed in [plugins.calendar] sources: event "
                "titles, times, places, attendee counts (no names; notes only if you opt in).",
    "browser": "Reads Firefox and Chromium-family history files (from a copy): page titles and domains, never "
               "addresses; banking, health, password-manager and adult sites are never stored.",
    "notifications": "Watches desktop notifications on the session D-Bus: app name and summary, and whether "
                     "you clicked or dismissed them; the body only if you opt in.",
}
SCOPES = ("propositions:read", "observations:read", "feedback:write", "admin")
TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class SettingsDialog(QDialog):
    """Edit the agent's settings and tokens through the API."""

    loaded = Signal(dict)
    saved = Signal(dict)
    tokens_loaded = Signal(list)
    token_created = Signal(dict)
    token_revoked = Signal(str)
    failed = Signal(str, str)  # what, message
    restart_requested = Signal()  # settings saved: the agent should restart to apply them
    delete_everything_requested = Signal()
    data_dir_changed = Signal(str)

    def __init__(self, api, *, data_dir: str = "", parent=None):
        super().__init__(parent)
        self.api = api
        self.current: dict = {}
        self._data_dir = data_dir
        self.setWindowTitle("gum — Settings")
        self.setModal(False)
        self.resize(640, 520)
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        layout.addWidget(self.tabs)

        # -- Model -----------------------------------------------------------------------------------
        page = QWidget()
        form = QVBoxLayout(page)
        self.model_embedded = QRadioButton("Embedded (Qwen2.5-Coder 0.5B, runs on this computer)")
        self.model_gguf = QRadioButton("A GGUF model file:")
        self.model_server = QRadioButton("An OpenAI-compatible server on your network (llama-server, Ollama):")
        self.model_group = QButtonGroup(self)
        for b in (self.model_embedded, self.model_gguf, self.model_server):
            self.model_group.addButton(b)
        self.gguf_path = QLineEdit()
        self.gguf_path.setPlaceholderText("/path/to/model.gguf")
        gguf_browse = QPushButton("Browse…")
        gguf_browse.clicked.connect(self._browse_gguf)
        self.server_url = QLineEdit()
        self.server_url.setPlaceholderText("http://127.0.0.1:8080/v1")
        self.server_model = QLineEdit()
        form.addWidget(self.model_embedded)
        form.addWidget(self.model_gguf)
        row = QHBoxLayout()
        row.addWidget(self.gguf_path, 1)
        row.addWidget(gguf_browse)
        form.addLayout(row)
        form.addWidget(self.model_server)
        sf = QFormLayout()
        sf.addRow("URL", self.server_url)
        sf.addRow("Model name", self.server_model)
        form.addLayout(sf)
        form.addStretch(1)
        self.gguf_path.textEdited.connect(lambda _: self.model_gguf.setChecked(True))
        self.server_url.textEdited.connect(lambda _: self.model_server.setChecked(True))
        self.tabs.addTab(page, "Model")

        # -- Observing and privacy -------------------------------------------------------------------
        page = QWidget()
        form = QFormLayout(page)
        self.observer_boxes = {name: QCheckBox(name) for name in OBSERVERS}
        obs_row = QHBoxLayout()
        for name, box in self.observer_boxes.items():
            box.setToolTip(OBSERVER_READS.get(name, ""))
            obs_row.addWidget(box)
        obs_row.addStretch(1)
        form.addRow("Observers", obs_row)
        reads = QLabel("\n".join(f"{name}: {text}" for name, text in OBSERVER_READS.items()))
        reads.setWordWrap(True)
        form.addRow("", reads)
        self.exclusions = QPlainTextEdit()
        self.exclusions.setPlaceholderText("One per line: window titles or apps never captured, e.g. KeePassXC")
        self.exclusions.setFixedHeight(80)
        form.addRow("Never capture", self.exclusions)
        self.redactions = QPlainTextEdit()
        self.redactions.setPlaceholderText("One regular expression per line, replaced before anything is stored")
        self.redactions.setFixedHeight(80)
        form.addRow("Also redact", self.redactions)
        self.keep_screenshots = QCheckBox("Keep screenshots (otherwise only their text is kept)")
        form.addRow("Screenshots", self.keep_screenshots)
        self.screenshot_budget = QSpinBox()
        self.screenshot_budget.setRange(0, 100_000)
        self.screenshot_budget.setSuffix(" MB")
        form.addRow("  at most", self.screenshot_budget)
        self.screenshot_age = QSpinBox()
        self.screenshot_age.setRange(0, 3650)
        self.screenshot_age.setSuffix(" days")
        form.addRow("  for", self.screenshot_age)
        self.tabs.addTab(page, "Privacy")

        # -- Data ------------------------------------------------------------------------------------
        page = QWidget()
        dl = QVBoxLayout(page)
        form = QFormLayout()
        self.data_dir = QLineEdit(data_dir)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_data_dir)
        row = QHBoxLayout()
        row.addWidget(self.data_dir, 1)
        row.addWidget(browse)
        form.addRow("Data folder", row)
        dl.addLayout(form)
        dl.addWidget(QLabel("A new data folder is used from the next agent start (the old one is left as it is)."))
        dl.addSpacing(24)
        self.delete_button = QPushButton("Delete everything…")
        self.delete_button.setStyleSheet("color: #b00;")
        self.delete_confirm = QFrame()
        self.delete_confirm.setFrameShape(QFrame.StyledPanel)
        dc = QVBoxLayout(self.delete_confirm)
        dc.addWidget(QLabel("This deletes every observation, proposition, screenshot and token gum keeps in the "
                            "data folder. It cannot be undone. Type DELETE to confirm:"))
        self.delete_word = QLineEdit()
        self.delete_go = QPushButton("Delete everything now")
        self.delete_go.setEnabled(False)
        row = QHBoxLayout()
        row.addWidget(self.delete_word, 1)
        row.addWidget(self.delete_go)
        dc.addLayout(row)
        self.delete_confirm.hide()
        self.delete_button.clicked.connect(lambda: self.delete_confirm.setVisible(True))
        self.delete_word.textChanged.connect(lambda t: self.delete_go.setEnabled(t.strip() == "DELETE"))
        self.delete_go.clicked.connect(self._delete_everything)
        dl.addWidget(self.delete_button, 0, Qt.AlignLeft)
        dl.addWidget(self.delete_confirm)
        dl.addStretch(1)
        self.tabs.addTab(page, "Data")

        # -- Tokens ----------------------------------------------------------------------------------
        page = QWidget()
        tl = QVBoxLayout(page)
        tl.addWidget(QLabel("Assistants and plugins read what gum knows through the local API, each with its "
                            "own token."))
        self.token_table = QTableWidget(0, 5)
        self.token_table.setHorizontalHeaderLabels(["Name", "Scopes", "Created", "Last used", "State"])
        self.token_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        self.token_table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.token_table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.token_table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.token_table.verticalHeader().hide()
        tl.addWidget(self.token_table, 1)
        self.token_revoke = QPushButton("Revoke selected")
        tl.addWidget(self.token_revoke, 0, Qt.AlignRight)
        create = QFrame()
        create.setFrameShape(QFrame.StyledPanel)
        cl = QFormLayout(create)
        self.token_name = QLineEdit()
        self.token_name.setPlaceholderText("e.g. my-assistant")
        cl.addRow("New token", self.token_name)
        self.scope_boxes = {s: QCheckBox(s) for s in SCOPES}
        self.scope_boxes["propositions:read"].setChecked(True)
        srow = QHBoxLayout()
        for box in self.scope_boxes.values():
            srow.addWidget(box)
        cl.addRow("Scopes", srow)
        self.token_create = QPushButton("Create token")
        cl.addRow("", self.token_create)
        self.token_secret = QLineEdit()
        self.token_secret.setReadOnly(True)
        self.token_secret.setPlaceholderText("The new token appears here once; copy it now.")
        cl.addRow("Token", self.token_secret)
        tl.addWidget(create)
        self.token_create.clicked.connect(self.create_token)
        self.token_revoke.clicked.connect(self.revoke_selected_token)
        self.tabs.addTab(page, "API tokens")

        # -- bottom ----------------------------------------------------------------------------------
        bottom = QHBoxLayout()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        close = QPushButton("Close")
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.save_button)
        bottom.addWidget(close)
        layout.addLayout(bottom)
        self.save_button.clicked.connect(self.save)
        close.clicked.connect(self.close)

    # -- loading -------------------------------------------------------------------------------------

    def load(self) -> None:
        """Fetch the settings and the tokens (asynchronously)."""
        self.status.setText("Loading…")
        call = self.api.call("settings")
        call.done.connect(self._on_settings)
        call.failed.connect(lambda s, m: self._fail("load", m))
        self.load_tokens()

    def _on_settings(self, s: dict) -> None:
        self.current = dict(s)
        model = str(s.get("model") or "embedded")
        if model == "embedded":
            self.model_embedded.setChecked(True)
        elif model.startswith(("http://", "https://")):
            self.model_server.setChecked(True)
            self.server_url.setText(model)
        else:
            self.model_gguf.setChecked(True)
            self.gguf_path.setText(model)
        self.server_model.setText(str(s.get("server_model") or ""))
        observers = set(s.get("observers") or [])
        for name, box in self.observer_boxes.items():
            box.setChecked(name in observers)
        self.exclusions.setPlainText("\n".join(s.get("exclude_windows") or []))
        self.redactions.setPlainText("\n".join(s.get("redact_patterns") or []))
        self.keep_screenshots.setChecked(bool(s.get("keep_screenshots")))
        self.screenshot_budget.setValue(int(s.get("screenshot_budget_mb") or 0))
        self.screenshot_age.setValue(int(s.get("screenshot_max_age_days") or 0))
        self.status.setText("")
        self.loaded.emit(self.current)

    def values(self) -> dict:
        """What the form says, as settings."""
        if self.model_server.isChecked():
            model = self.server_url.text().strip()
        elif self.model_gguf.isChecked():
            model = self.gguf_path.text().strip()
        else:
            model = "embedded"
        return {
            "model": model,
            "server_model": self.server_model.text().strip() or "default",
            "observers": [n for n, b in self.observer_boxes.items() if b.isChecked()],
            "exclude_windows": _lines(self.exclusions.toPlainText()),
            "redact_patterns": _lines(self.redactions.toPlainText()),
            "keep_screenshots": self.keep_screenshots.isChecked(),
            "screenshot_budget_mb": self.screenshot_budget.value(),
            "screenshot_max_age_days": self.screenshot_age.value(),
        }

    def problems(self, values: dict) -> list[str]:
        """What is wrong with the form, in words the user can act on."""
        out = []
        if not values["model"]:
            out.append("Give the GGUF file or the server URL, or choose the embedded model.")
        elif self.model_gguf.isChecked() and not values["model"].endswith(".gguf"):
            out.append("The model file should be a .gguf file.")
        for pattern in values["redact_patterns"]:
            try:
                re.compile(pattern)
            except re.error as exc:
                out.append(f"Redaction pattern {pattern!r} is not a valid regular expression ({exc}).")
        return out

    def save(self) -> None:
        values = self.values()
        errors = self.problems(values)
        if errors:
            self._fail("save", " ".join(errors))
            return
        changed = {k: v for k, v in values.items() if self.current.get(k) != v}
        new_dir = self.data_dir.text().strip()
        if new_dir and new_dir != self._data_dir:
            self._data_dir = new_dir
            self.data_dir_changed.emit(new_dir)
        if not changed:
            self.status.setText("Nothing changed.")
            self.saved.emit(self.current)
            return
        self.status.setText("Saving…")
        call = self.api.call("update_settings", **changed)
        call.done.connect(self._on_saved)
        call.failed.connect(lambda s, m: self._fail("save", m))

    def _on_saved(self, s: dict) -> None:
        self.current = dict(s)
        self.status.setText("Saved. The agent restarts to apply the new settings.")
        self.saved.emit(self.current)
        self.restart_requested.emit()

    # -- tokens --------------------------------------------------------------------------------------

    def load_tokens(self) -> None:
        call = self.api.call("tokens")
        call.done.connect(self._on_tokens)
        call.failed.connect(lambda s, m: self._fail("tokens", m))

    def _on_tokens(self, tokens: list) -> None:
        self.token_table.setRowCount(0)
        for t in tokens:
            row = self.token_table.rowCount()
            self.token_table.insertRow(row)
            state = "revoked" if t.get("revoked") else "active"
            for col, value in enumerate([t.get("name", ""), ", ".join(t.get("scopes") or []),
                                         (t.get("created_at") or "")[:16].replace("T", " "),
                                         (t.get("last_used_at") or "never")[:16].replace("T", " "), state]):
                self.token_table.setItem(row, col, QTableWidgetItem(str(value)))
        self.tokens_loaded.emit(tokens)

    def create_token(self) -> None:
        name = self.token_name.text().strip()
        scopes = [s for s, b in self.scope_boxes.items() if b.isChecked()]
        if not TOKEN_NAME.match(name):
            self._fail("create token", "A token name is 1-64 letters, digits, dots, dashes or underscores.")
            return
        if not scopes:
            self._fail("create token", "Choose at least one scope.")
            return
        call = self.api.call("create_token", name, scopes)
        call.done.connect(self._on_token_created)
        call.failed.connect(lambda s, m: self._fail("create token", m))

    def _on_token_created(self, t: dict) -> None:
        self.token_secret.setText(t.get("token", ""))
        self.token_secret.selectAll()
        self.token_name.clear()
        self.status.setText(f"Token “{t.get('name')}” created. Copy it now: it is not shown again.")
        self.token_created.emit(t)
        self.load_tokens()

    def revoke_selected_token(self) -> None:
        row = self.token_table.currentRow()
        if row < 0:
            return
        name = self.token_table.item(row, 0).text()
        call = self.api.call("revoke_token", name)
        call.done.connect(lambda _r: self._on_token_revoked(name))
        call.failed.connect(lambda s, m: self._fail("revoke token", m))

    def _on_token_revoked(self, name: str) -> None:
        self.status.setText(f"Token “{name}” revoked: it no longer opens the API.")
        self.token_revoked.emit(name)
        self.load_tokens()

    # -- data ----------------------------------------------------------------------------------------

    def _delete_everything(self) -> None:
        self.delete_confirm.hide()
        self.delete_word.clear()
        self.status.setText("Deleting everything…")
        self.delete_everything_requested.emit()

    def _browse_gguf(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "A GGUF model", "", "GGUF models (*.gguf)")
        if path:
            self.gguf_path.setText(path)
            self.model_gguf.setChecked(True)

    def _browse_data_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "gum's data folder", self.data_dir.text())
        if path:
            self.data_dir.setText(path)

    def _fail(self, what: str, message: str) -> None:
        self.status.setText(f"Could not {what}: {message}")
        self.failed.emit(what, message)
