"""What crosses the API's edge: request bodies (pydantic, strict) and the JSON shapes of records."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from ..records import Observation, Proposition, iso
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


def prop_json(p: Proposition) -> dict:
    """The P shape of the contract."""
    return {
        "id": p.id,
        "text": p.text,
        "confidence": p.confidence,
        "decay": p.decay,
        "status": p.status,
        "version": p.version,
        "evidence_count": p.evidence_count,
        "feedback": p.feedback,
        "edited": bool(p.edited),
        "source": p.source,
        "created_at": iso(p.created_at) if p.created_at else None,
        "updated_at": iso(p.updated_at) if p.updated_at else None,
        "score": round(p.score, 4) if p.score is not None else None,
    }


def obs_json(o: Observation) -> dict:
    """The O shape of the contract."""
    return {
        "id": o.id,
        "ts": iso(o.ts),
        "ts_end": iso(o.ts_end) if o.ts_end else None,
        "observer": o.observer,
        "app": o.app,
        "window": o.window,
        "text": o.text,
        "image_path": o.image_path,
    }
