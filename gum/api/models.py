"""What crosses the API's edge: request bodies (pydantic, strict) and the response models.

The response models are the one definition of each JSON shape: the server validates what it answers
against them, the OpenAPI document is generated from them, and `gum ... --json` prints them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from .. import records
from ..records import iso
from .tokens import SCOPES

MAX_TEXT = 2000


def _integral(value):
    # JSON has one number type: 5.0 is the integer 5 (as JSON Schema says), 5.5 is not an integer.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Confidence = Annotated[
    int,
    BeforeValidator(_integral),
    Field(ge=1, le=10),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 10}),
]


class Body(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", strict=True)  # 1.0, "1" or true are not an integer here


class AddBody(Body):
    """POST /v1/propositions."""

    text: str = Field(min_length=1, max_length=MAX_TEXT, pattern=r"\S")
    confidence: Confidence | None = None


def _at_least_one_non_null(schema: dict) -> None:
    # Described as the API takes it: the fields may be left out, not sent as null, and one must be there.
    for prop in schema.get("properties", {}).values():
        options = [o for o in prop.pop("anyOf", []) if o.get("type") != "null"]
        if options:
            prop.update(options[0])
        prop.pop("default", None)
    schema["minProperties"] = 1


class EditBody(Body):
    """PATCH /v1/propositions/{id}: at least one of text and confidence."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_at_least_one_non_null)

    text: str | None = Field(None, min_length=1, max_length=MAX_TEXT, pattern=r"\S")
    confidence: Confidence | None = None


class RevokeBody(Body):
    """POST /v1/propositions/{id}/revoke."""

    with_evidence: bool = False


class PauseBody(Body):
    """POST /v1/pause: seconds to pause, or null for until resumed (at most 30 days)."""

    seconds: float | None = Field(None, gt=0, le=30 * 86400)


class TokenBody(Body):
    """POST /v1/tokens."""

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        json_schema_extra={"not": {"const": "tray"}},
    )  # the tray app's own, set by the agent
    scopes: list[str] = Field(
        min_length=1,
        max_length=len(SCOPES),
        json_schema_extra={"items": {"type": "string", "enum": list(SCOPES)}},
    )


# -- responses ------------------------------------------------------------------------------------------

TS = Annotated[str, Field(description="ISO 8601 time, UTC")]


class Out(BaseModel):
    """Base of response models: what the server answers, nothing else."""

    model_config = ConfigDict(extra="forbid")


class Error(Out):
    """Every refusal and failure: a message for the caller."""

    error: str


class Health(Out):
    ok: bool
    version: str


class Queue(Out):
    """Observations waiting for the model; the agent adds its estimates (eta_seconds, waiting_for)."""

    model_config = ConfigDict(extra="allow")

    pending: int
    failed: int


class Status(Out):
    """The agent's state (Agent.status()); fields the agent adds later pass through."""

    model_config = ConfigDict(extra="allow")

    state: Literal["observing", "idle", "paused", "working", "error"]
    paused: bool
    paused_until: TS | None
    busy: bool
    model: str | None
    observers: dict[str, dict[str, Any]]
    queue: Queue
    counts: dict[str, Any]
    last_error: str | None


class Proposition(Out):
    """A proposition as the API, the MCP server and `gum ... --json` show it."""

    id: int
    text: str
    confidence: int = Field(ge=1, le=10, description="how sure gum is, 1-10")
    decay: int = Field(ge=1, le=10, description="how long it lasts, 1-10")
    status: Literal["active", "superseded", "revoked", "rejected"]
    version: int = Field(ge=1)
    evidence_count: int = Field(ge=0)
    feedback: Literal["confirmed", "rejected"] | None
    edited: bool
    source: str = Field(description="model or user")
    created_at: TS | None
    updated_at: TS | None
    score: float | None = Field(description="ranking score (queries only)")

    @classmethod
    def of(cls, p: records.Proposition) -> Proposition:
        return cls(
            id=p.id,
            text=p.text,
            confidence=p.confidence,
            decay=p.decay,
            status=p.status,
            version=p.version,
            evidence_count=p.evidence_count,
            feedback=p.feedback,
            edited=bool(p.edited),
            source=p.source,
            created_at=iso(p.created_at) if p.created_at else None,
            updated_at=iso(p.updated_at) if p.updated_at else None,
            score=round(p.score, 4) if p.score is not None else None,
        )


class Observation(Out):
    """One raw observation (screen text, a window, input counts)."""

    id: int
    ts: TS
    ts_end: TS | None
    observer: str
    app: str
    window: str
    text: str
    image_path: str | None

    @classmethod
    def of(cls, o: records.Observation) -> Observation:
        return cls(
            id=o.id,
            ts=iso(o.ts),
            ts_end=iso(o.ts_end) if o.ts_end else None,
            observer=o.observer,
            app=o.app,
            window=o.window,
            text=o.text,
            image_path=o.image_path,
        )


class PropositionDetail(Proposition):
    """One proposition with why gum believes it and how it changed."""

    reasoning: str
    model_confidence: int | None
    confidence_detail: dict[str, Any]
    evidence: list[Observation] = Field(
        description="the observations behind it; empty without observations:read"
    )
    evidence_withheld: bool = Field(description="true when evidence exists but the token may not read it")
    history: list[Proposition]


class Propositions(Out):
    propositions: list[Proposition]


class Observations(Out):
    observations: list[Observation]


class Level(Out):
    confidence: int
    confirmed: int
    rejected: int


class Calibration(Out):
    """Per confidence level, how many propositions the user confirmed and rejected."""

    levels: list[Level]


class Token(Out):
    """A token as listed (never its secret)."""

    id: int
    name: str
    scopes: list[Literal[SCOPES]]  # type: ignore[valid-type]
    created_at: TS
    last_used_at: TS | None
    revoked: bool


class Tokens(Out):
    tokens: list[Token]


class TokenCreated(Token):
    token: str = Field(description="the secret, shown only this once")


class Revoked(Out):
    revoked: str


class Access(Out):
    at: TS
    plugin: str
    method: str
    path: str
    status: int
    items: int


class AccessLog(Out):
    entries: list[Access]


def prop_json(p: records.Proposition) -> dict:
    """A proposition as plain JSON data (for the CLI's --json output)."""
    return Proposition.of(p).model_dump(mode="json")
