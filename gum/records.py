"""The plain records gum passes around inside: observations, propositions and what links them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Re-exported: records and times are imported together almost everywhere.
from .times import iso, utcnow  # noqa: F401


@dataclass
class Observation:
    """One thing an observer saw: screen text, a window switch, a burst of input, a line of a transcript."""

    observer: str
    text: str
    ts: datetime = field(default_factory=utcnow)
    app: str = ""
    window: str = ""
    image_path: str | None = None
    meta: dict = field(default_factory=dict)
    id: int | None = None
    ts_end: datetime | None = None


@dataclass
class Proposition:
    """One claim about the user, with how sure gum is (confidence) and how long it should last (decay)."""

    text: str
    reasoning: str = ""
    confidence: int = 5
    decay: int = 5
    id: int | None = None
    status: str = "active"
    version: int = 1
    revises_id: int | None = None
    root_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    feedback: str | None = None
    edited: bool = False
    source: str = "model"
    model_confidence: int | None = None
    evidence_count: int = 0
    confidence_detail: dict = field(default_factory=dict)
    score: float | None = None


@dataclass
class Usage:
    """Tokens a model call consumed and how long it took."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # CPU this process spent on the call (0 for a model on a server)
    calls: int = 0

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.seconds += other.seconds
        self.cpu_seconds += other.cpu_seconds
        self.calls += other.calls
