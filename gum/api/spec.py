"""How an endpoint is described (Route, Param) and the OpenAPI 3.1 document built from those descriptions.

The server routes requests with the same Route objects the document is made from, so the spec cannot drift
from what is served.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from .tokens import SCOPES

MAX_ID = 2**63 - 1  # SQLite's INTEGER range; bigger ids cannot exist


@dataclass
class Param:
    """A query parameter: `kind` is int, str or time ("2d", "3h", "30m", or an ISO date)."""

    name: str
    kind: str = "str"
    required: bool = False
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    description: str = ""

    def schema(self) -> dict:
        if self.kind == "int":
            s: dict = {"type": "integer"}
            if self.minimum is not None:
                s["minimum"] = self.minimum
            if self.maximum is not None:
                s["maximum"] = self.maximum
        elif self.kind == "time":
            s = {
                "type": "string",
                "anyOf": [
                    {"pattern": r"^[0-9]{1,9}(\.[0-9]{1,6})?(m|min|h|d|w)$"},
                    {"format": "date-time"},
                    {"format": "date"},
                ],
            }
        else:
            s = {"type": "string"}
            if self.max_length is not None:
                s["maxLength"] = self.max_length
        if self.default is not None:
            s["default"] = self.default
        return s


@dataclass
class Route:
    """One endpoint: method, path template ({id} integer, {name} token name), scope, handler, description."""

    method: str
    path: str
    scope: str | None
    handler: Callable
    summary: str
    params: tuple[Param, ...] = ()
    body: Any = None  # a pydantic model, "object" (free-form JSON object), or None
    body_required: bool = False
    response: str = "Object"  # a schema name in SCHEMAS
    status: int = 200
    regex: re.Pattern = field(init=False)

    def __post_init__(self) -> None:
        pattern = re.sub(r"\{id\}", r"(?P<id>[0-9]{1,19})", self.path)
        pattern = re.sub(r"\{name\}", r"(?P<name>[^/]{1,200})", pattern)
        self.regex = re.compile("^" + pattern + "$")

    @property
    def operation_id(self) -> str:
        return self.handler.__name__.lstrip("_")


_TS = {"type": "string", "description": "ISO 8601 time, UTC"}
_NULLABLE_TS = {"anyOf": [_TS, {"type": "null"}]}

PROPOSITION = {
    "type": "object",
    "required": [
        "id",
        "text",
        "confidence",
        "decay",
        "status",
        "version",
        "evidence_count",
        "feedback",
        "edited",
        "source",
        "created_at",
        "updated_at",
        "score",
    ],
    "properties": {
        "id": {"type": "integer"},
        "text": {"type": "string"},
        "confidence": {
            "type": "integer",
            "minimum": 1,
            "maximum": 10,
            "description": "how sure gum is, 1-10",
        },
        "decay": {"type": "integer", "minimum": 1, "maximum": 10, "description": "how long it lasts, 1-10"},
        "status": {"type": "string", "enum": ["active", "superseded", "revoked", "rejected"]},
        "version": {"type": "integer", "minimum": 1},
        "evidence_count": {"type": "integer", "minimum": 0},
        "feedback": {"anyOf": [{"type": "string", "enum": ["confirmed", "rejected"]}, {"type": "null"}]},
        "edited": {"type": "boolean"},
        "source": {"type": "string", "description": "model or user"},
        "created_at": _NULLABLE_TS,
        "updated_at": _NULLABLE_TS,
        "score": {
            "anyOf": [{"type": "number"}, {"type": "null"}],
            "description": "ranking score (queries only)",
        },
    },
}

OBSERVATION = {
    "type": "object",
    "required": ["id", "ts", "ts_end", "observer", "app", "window", "text", "image_path"],
    "properties": {
        "id": {"type": "integer"},
        "ts": _TS,
        "ts_end": _NULLABLE_TS,
        "observer": {"type": "string"},
        "app": {"type": "string"},
        "window": {"type": "string"},
        "text": {"type": "string"},
        "image_path": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
}

TOKEN = {
    "type": "object",
    "required": ["id", "name", "scopes", "created_at", "last_used_at", "revoked"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "scopes": {"type": "array", "items": {"type": "string", "enum": list(SCOPES)}},
        "created_at": _TS,
        "last_used_at": _NULLABLE_TS,
        "revoked": {"type": "boolean"},
    },
}


def _list_of(key: str, ref: str) -> dict:
    return {
        "type": "object",
        "required": [key],
        "properties": {key: {"type": "array", "items": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _settings_schema(partial: bool) -> dict:
    schema = Settings.model_json_schema()
    schema.pop("title", None)
    schema["additionalProperties"] = False
    if partial:
        from .settings_io import CLI_ONLY, FILE_ONLY

        schema.pop("required", None)
        for key in CLI_ONLY + FILE_ONLY:
            schema["properties"].pop(key, None)
        schema["description"] = "Any subset of the settings; unknown names are refused."
    return schema


SCHEMAS: dict[str, dict] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "Object": {"type": "object"},
    "Health": {
        "type": "object",
        "required": ["ok", "version"],
        "properties": {"ok": {"type": "boolean"}, "version": {"type": "string"}},
    },
    "Status": {
        "type": "object",
        "required": [
            "state",
            "paused",
            "paused_until",
            "busy",
            "model",
            "observers",
            "queue",
            "counts",
            "last_error",
        ],
        "properties": {
            "state": {"type": "string", "enum": ["observing", "idle", "paused", "working", "error"]},
            "paused": {"type": "boolean"},
            "paused_until": _NULLABLE_TS,
            "busy": {"type": "boolean"},
            "model": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "observers": {"type": "object", "additionalProperties": {"type": "object"}},
            "queue": {
                "type": "object",
                "properties": {"pending": {"type": "integer"}, "failed": {"type": "integer"}},
            },
            "counts": {"type": "object"},
            "last_error": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
    },
    "Proposition": PROPOSITION,
    "PropositionDetail": {
        "allOf": [
            {"$ref": "#/components/schemas/Proposition"},
            {
                "type": "object",
                "required": [
                    "reasoning",
                    "model_confidence",
                    "confidence_detail",
                    "evidence",
                    "evidence_withheld",
                    "history",
                ],
                "properties": {
                    "reasoning": {"type": "string"},
                    "model_confidence": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                    "confidence_detail": {"type": "object"},
                    "evidence": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/Observation"},
                        "description": "the observations behind it; empty without observations:read",
                    },
                    "evidence_withheld": {
                        "type": "boolean",
                        "description": "true when evidence exists but the token may not read it",
                    },
                    "history": {"type": "array", "items": {"$ref": "#/components/schemas/Proposition"}},
                },
            },
        ]
    },
    "Observation": OBSERVATION,
    "Propositions": _list_of("propositions", "Proposition"),
    "Observations": _list_of("observations", "Observation"),
    "Calibration": {
        "type": "object",
        "required": ["levels"],
        "properties": {
            "levels": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["confidence", "confirmed", "rejected"],
                    "properties": {
                        "confidence": {"type": "integer"},
                        "confirmed": {"type": "integer"},
                        "rejected": {"type": "integer"},
                    },
                },
            }
        },
    },
    "Token": TOKEN,
    "Tokens": _list_of("tokens", "Token"),
    "TokenCreated": {
        "allOf": [
            {"$ref": "#/components/schemas/Token"},
            {
                "type": "object",
                "required": ["token"],
                "properties": {
                    "token": {"type": "string", "description": "the secret, shown only this once"}
                },
            },
        ]
    },
    "Revoked": {"type": "object", "required": ["revoked"], "properties": {"revoked": {"type": "string"}}},
    "AccessLog": {
        "type": "object",
        "required": ["entries"],
        "properties": {
            "entries": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["at", "plugin", "method", "path", "status", "items"],
                    "properties": {
                        "at": _TS,
                        "plugin": {"type": "string"},
                        "method": {"type": "string"},
                        "path": {"type": "string"},
                        "status": {"type": "integer"},
                        "items": {"type": "integer"},
                    },
                },
            }
        },
    },
    "Settings": _settings_schema(partial=False),
    "SettingsUpdate": _settings_schema(partial=True),
    "OpenAPI": {"type": "object", "required": ["openapi", "paths"]},
}

# Every operation may answer these: the checks run before any endpoint's own code.
_COMMON_ERRORS = {
    "400": "bad request: a parameter or the body is invalid, the query string is too long, or no Host header",
    "401": "no token, or an unknown or revoked token",
    "403": "the token lacks the scope this endpoint needs",
    "404": "no such thing (or no such endpoint)",
    "405": "this path does not take that method",
    "409": "conflict: the name is taken",
    "411": "a body was sent without Content-Length",
    "413": "the body is too large",
    "415": "a body that is not application/json",
    "421": "the Host header is not a loopback name (a DNS-rebinding defence)",
    "429": "too many requests for this token: wait Retry-After seconds",
}


def build_spec(routes: list[Route], version: str, *, limits: dict | None = None) -> dict:
    """The OpenAPI 3.1 document describing `routes`."""
    paths: dict[str, dict] = {}
    for r in routes:
        op: dict = {
            "operationId": r.operation_id,
            "summary": r.summary,
            "description": f"Needs scope: {r.scope}." if r.scope else "Any valid token.",
            "parameters": [],
            "responses": {
                str(r.status): {
                    "description": "OK",
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{r.response}"}}
                    },
                },
                **{
                    code: {
                        "description": text,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    }
                    for code, text in _COMMON_ERRORS.items()
                },
            },
        }
        if "{id}" in r.path:
            op["parameters"].append(
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                }
            )
        if "{name}" in r.path:
            op["parameters"].append(
                {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
                }
            )
        for p in r.params:
            op["parameters"].append(
                {
                    "name": p.name,
                    "in": "query",
                    "required": p.required,
                    "description": p.description,
                    "schema": p.schema(),
                }
            )
        if r.body is not None:
            if r.body == "object":
                schema = {"$ref": "#/components/schemas/SettingsUpdate"}
            else:
                schema = r.body.model_json_schema()
                schema.pop("title", None)
                schema["additionalProperties"] = False
            op["requestBody"] = {
                "required": r.body_required,
                "content": {"application/json": {"schema": schema}},
            }
        if not op["parameters"]:
            del op["parameters"]
        paths.setdefault(r.path, {})[r.method.lower()] = op
    limits = limits or {}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "gum local API",
            "version": version,
            "description": (
                "The local API of gum, served by the agent on 127.0.0.1 only. Every request needs "
                "`Authorization: Bearer <token>` (create one with `gum token create NAME --scope ...`). "
                f"Scopes: {', '.join(SCOPES)} (admin implies all). Requests whose Host header is not a "
                "loopback name are refused. Every plugin access is logged "
                "(GET /v1/access-log, `gum token log`). "
                + (f"Limits: {', '.join(f'{k} {v}' for k, v in limits.items())}." if limits else "")
            ),
        },
        "servers": [{"url": "http://127.0.0.1:8765"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
    }
