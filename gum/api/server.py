"""The local HTTP API served by the agent on 127.0.0.1: FastAPI routes on uvicorn, in a background thread.

Every request passes, in order: a loopback Host header (DNS-rebinding defence), size limits, a bearer token
(401) and the per-token rate limit (429) in `Guard`, an ASGI middleware, so a caller without a valid token
learns nothing, not even which paths exist; then the route (404/405), the token's scope (403, a dependency)
and the parameters (400, from the pydantic models). Refused requests change nothing; every request by a
known token except the tray's own reads is written to the access log before it is answered.

The routes below are the one description of the API: FastAPI checks requests against their parameter and
body models, checks answers against their response models, and generates /openapi.json from both.
"""

import functools
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import TypeAdapter
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from ..config import Settings
from ..errors import ConfigError, GumError, InputError, NotFound
from ..records import utcnow
from ..times import TIME_PATTERN, parse_time
from . import DEFAULT_PORT, tokens
from .models import (
    AccessLog,
    AddBody,
    Calibration,
    EditBody,
    Error,
    Health,
    Observation,
    Observations,
    PauseBody,
    Proposition,
    PropositionDetail,
    Propositions,
    RevokeBody,
    Revoked,
    Status,
    Timeline,
    TokenBody,
    TokenCreated,
    Tokens,
)

log = logging.getLogger("gum.api")

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
MAX_BODY = 64 * 1024
MAX_QUERY_STRING = 4096
MAX_QUERY_FIELDS = 20
MAX_Q = 500
MAX_ID = 2**63 - 1  # SQLite's INTEGER range; bigger ids cannot exist
ACCESS_LOG_DAYS = 90
FAILED_AUTH_PER_MINUTE, FAILED_AUTH_BURST = 30, 20
INTERNAL_ERROR = "internal error in the gum agent (see its log)"


class HttpError(Exception):
    """A refusal with its status and a message for the caller."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


# -- the per-token rate limit ---------------------------------------------------------------------------


class RateLimiter:
    """A token bucket per API token: `per_minute` on average, bursts of up to `burst`."""

    def __init__(self, per_minute: float, burst: int | None = None):
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(10, int(per_minute // 5)))
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: int) -> float:
        """0 if the request may go ahead, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            level, last = self._buckets.get(key, (self.burst, now))
            level = min(self.burst, level + (now - last) * self.rate)
            if level >= 1:
                self._buckets[key] = (level - 1, now)
                return 0.0
            self._buckets[key] = (level, now)
            return (1 - level) / self.rate


# -- what an endpoint gets ---------------------------------------------------------------------------------


@dataclass
class Call:
    """One request as a handler sees it: the agent, the caller's token, and what it was handed."""

    api: "ApiServer"
    token: tokens.TokenInfo
    method: str
    path: str
    items: int = 0  # how many propositions/observations/... the answer holds, for the access log
    logged: bool = False

    @property
    def agent(self):
        return self.api.agent

    @property
    def store(self):
        """This worker thread's Store (handlers run in a thread pool; each thread keeps its connection)."""
        return self.agent.store()


async def _call(request: Request) -> Call:
    call = Call(request.app.state.api, request.state.token, request.method, request.url.path)
    request.state.call = call
    return call


def _require(scope: str | None):
    async def check(request: Request) -> None:
        token: tokens.TokenInfo = request.state.token
        if not token.allows(scope):
            raise HttpError(
                403,
                f"token {token.name!r} lacks the scope {scope!r} this endpoint needs "
                f"(it has: {', '.join(token.scopes)})",
            )

    return check


async def _plain_request(request: Request) -> None:
    """What the models cannot say: no unknown or repeated query parameters, no body where none is taken."""
    route = request.scope["route"]
    known = _query_names(route)
    seen: set[str] = set()
    items = request.query_params.multi_items()
    if len(items) > MAX_QUERY_FIELDS:
        raise HttpError(400, f"more than {MAX_QUERY_FIELDS} query parameters")
    for key, _ in items:
        if key not in known:
            expected = ", ".join(sorted(known)) or "none"
            raise HttpError(400, f"unknown query parameter {key!r} (this endpoint takes: {expected})")
        if key in seen:
            raise HttpError(400, f"query parameter {key!r} given twice")
        seen.add(key)
    sent = request.headers.get("content-length", "0") not in ("", "0")
    if route.body_field is None and sent and (await request.body()).strip():
        raise HttpError(400, "this endpoint takes no body")


def _query_names(route) -> set[str]:
    # Only the endpoint's own parameters: the dependencies every route shares take none.
    return {p.alias for p in route.dependant.query_params}


CallDep = Annotated[Call, Depends(_call)]
PropId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _time(description: str):
    return Query(
        description=f"{description}: 30m, 3h, 2d, 1w ago, a date or an RFC 3339 date-time",
        json_schema_extra={
            "type": "string",
            "anyOf": [{"pattern": TIME_PATTERN}, {"format": "date-time"}, {"format": "date"}],
        },
    )


Since = Annotated[str | None, _time("only newer")]
Until = Annotated[str | None, _time("only older")]


def _limit(maximum: int):
    return Annotated[int, Query(ge=1, le=maximum, description=f"at most {maximum}")]


Limit100, Limit200, Limit1000 = _limit(100), _limit(200), _limit(1000)


router = APIRouter()


def route(
    method: str,
    path: str,
    scope: str | None,
    response_model,
    status: int = 200,
    request_body: dict | None = None,
):
    """Declare an endpoint (its summary: the first line of its docstring); the scope it needs is checked
    before its parameters are."""

    def declare(handler):
        answer = TypeAdapter(response_model)

        # Handlers are plain functions that use the database, run in a worker thread. The same thread
        # checks the answer against the response model and writes the access log: one thread hop a request.
        @functools.wraps(handler)
        async def endpoint(*args, call: Call, **kwargs):
            def work() -> Response:
                body = answer.dump_json(answer.validate_python(_acting(handler, *args, call=call, **kwargs)))
                call.api.log_access(call.token, call.method, call.path, status, call.items)
                call.logged = True
                return Response(body, status_code=status, media_type="application/json")

            return await anyio.to_thread.run_sync(work)

        return router.api_route(
            path,
            methods=[method],
            summary=handler.__doc__.splitlines()[0].rstrip("."),
            description=f"Needs scope: {scope}." if scope else "Any valid token.",
            response_model=response_model,
            status_code=status,
            dependencies=[Depends(_require(scope)), Depends(_plain_request)],
            openapi_extra={"x-scope": scope, **({"requestBody": request_body} if request_body else {})},
        )(endpoint)

    return declare


def _acting(handler, *args, **kwargs):
    """Run `handler` with its thread's Store recording the calling token as the actor of every write."""
    call = kwargs.get("call")
    if call is None:
        return handler(*args, **kwargs)
    store = call.store
    before, store.actor = store.actor, call.token.name
    try:
        return handler(*args, **kwargs)
    finally:
        store.actor = before


def _shown_to(token: tokens.TokenInfo, props: list) -> list:
    """What a token may be handed: not another plugin's unconfirmed addition (the user has not said it)."""
    if token.allows("admin"):
        return props
    own = f"plugin:{token.name}"
    return [p for p in props if not (p.source.startswith("plugin:") and p.feedback is None and p.source != own)]


def _visible_lineage(store, prop_id: int):
    """The proposition, unless its lineage was revoked (the store's rule, the same for every caller)."""
    return store.visible(prop_id)


@functools.lru_cache(maxsize=1)
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gum-desktop")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


# -- the endpoints ------------------------------------------------------------------------------------------


@route("GET", "/v1/health", None, Health)
def health(call: CallDep) -> Health:
    """Is the agent up? (any valid token)."""
    return Health(ok=True, version=_version())


@route("GET", "/v1/status", "propositions:read", Status)
def status(call: CallDep) -> dict:
    """The agent's state, observers, model, queue, counts and last error (details for admin only)."""
    full = call.agent.status()
    return full if call.token.allows("admin") else states_only(full)


def states_only(full: dict) -> dict:
    """Status without content: an observer's health text names the active window, and the last error or
    the model's health may quote what the model answered. A plugin sees states, not what is on screen."""
    out = dict(full)
    out["observers"] = {name: {"ok": bool(h.get("ok"))} for name, h in (full.get("observers") or {}).items()}
    out["last_error"] = "an error occurred (details: the tray or `gum status`)" if full.get("last_error") else None
    if isinstance(full.get("model_health"), dict):
        out["model_health"] = {"ok": bool(full["model_health"].get("ok"))}
    out.pop("protection", None)
    return out


@route("GET", "/v1/query", "propositions:read", Propositions)
def query(
    call: CallDep,
    q: Annotated[str, Query(max_length=MAX_Q, description="free text")],
    limit: Limit100 = 10,
    since: Since = None,
    until: Until = None,
) -> Propositions:
    """Propositions relevant to q, best first (the ranking of `gum query`)."""
    from ..search import query as search

    props = _shown_to(call.token, search(call.store, q, limit=limit, since=_when("since", since),
                                         until=_when("until", until)))
    call.items = len(props)
    return Propositions(propositions=[Proposition.of(p) for p in props])


@route("GET", "/v1/propositions", "propositions:read", Propositions)
def recent(call: CallDep, limit: Limit1000 = 10, since: Since = None) -> Propositions:
    """The newest active propositions."""
    from ..search import recent

    props = _shown_to(call.token, recent(call.store, limit=limit, since=_when("since", since)))
    call.items = len(props)
    return Propositions(propositions=[Proposition.of(p) for p in props])


@route("GET", "/v1/propositions/{id}", "propositions:read", PropositionDetail)
def get_proposition(call: CallDep, id: PropId) -> PropositionDetail:
    """One proposition with reasoning, history and (with observations:read) its evidence."""
    store = call.store
    p = _visible_lineage(store, id)
    if not _shown_to(call.token, [p]):
        raise NotFound(f"proposition #{id} is another plugin's unconfirmed addition")
    if p.status == "rejected" and not call.token.allows("feedback:write"):
        # What the user said is false is not something a reader should be handed as a belief.
        raise NotFound(f"proposition #{id} was rejected")
    # The reasoning quotes the observation it came from: it is screen content, like the evidence.
    may_see = call.token.allows("observations:read")
    evidence = store.evidence(id)
    history = [h for h in store.history(id) if h.status != "revoked"
               and (h.status != "rejected" or call.token.allows("feedback:write"))]
    call.items = 1
    return PropositionDetail(
        **Proposition.of(p).model_dump(),
        reasoning=p.reasoning if may_see else "",
        model_confidence=p.model_confidence,
        confidence_detail=p.confidence_detail,
        evidence=[Observation.of(o) for o in evidence] if may_see else [],
        evidence_withheld=bool(evidence) and not may_see,
        history=[Proposition.of(h) for h in history],
    )


@route("POST", "/v1/propositions", "feedback:write", Proposition, status=201)
def add_proposition(call: CallDep, body: AddBody) -> Proposition:
    """Add a proposition by hand."""
    call.items = 1
    return Proposition.of(call.store.add_by_hand(body.text, confidence=body.confidence or 10))


@route("POST", "/v1/propositions/{id}/confirm", "feedback:write", Proposition)
def confirm(call: CallDep, id: PropId) -> Proposition:
    """Say a proposition is true."""
    _visible_lineage(call.store, id)
    call.items = 1
    return Proposition.of(call.store.confirm(id))


@route("POST", "/v1/propositions/{id}/reject", "feedback:write", Proposition)
def reject(call: CallDep, id: PropId) -> Proposition:
    """Say a proposition is false (hidden, never inferred again)."""
    _visible_lineage(call.store, id)
    call.items = 1
    return Proposition.of(call.store.reject(id))


@route("DELETE", "/v1/propositions/{id}/feedback", "feedback:write", Proposition)
def clear_feedback(call: CallDep, id: PropId) -> Proposition:
    """Undo a confirm or reject (a rejected proposition becomes active again).

    Feedback back to none (a rejected one active again), its log row gone, so calibration does not count
    a click the user took back."""
    call.items = 1
    return Proposition.of(call.store.clear_feedback(id))


@route("PATCH", "/v1/propositions/{id}", "feedback:write", Proposition)
def edit(call: CallDep, id: PropId, body: EditBody) -> Proposition:
    """Rewrite a proposition (a new version the engine will not overwrite)."""
    if body.text is None and body.confidence is None:
        raise HttpError(400, "give text and/or confidence")
    _visible_lineage(call.store, id)
    call.items = 1
    return Proposition.of(call.store.edit(id, text=body.text, confidence=body.confidence))


@route("POST", "/v1/propositions/{id}/revoke", "feedback:write", Proposition)
def revoke(call: CallDep, id: PropId, body: RevokeBody | None = None) -> Proposition:
    """Forget a proposition (and optionally its evidence): never shown or inferred again."""
    call.store.get(id)  # 404 for an id that never existed
    call.items = 1
    return Proposition.of(call.store.revoke(id, with_evidence=bool(body and body.with_evidence)))


@route("GET", "/v1/observations", "observations:read", Observations)
def observations(
    call: CallDep,
    limit: Limit200 = 50,
    q: Annotated[str | None, Query(max_length=MAX_Q, description="free text")] = None,
    since: Since = None,
    until: Until = None,
) -> Observations:
    """Raw observations, newest first."""
    obs = call.store.observations(
        limit=limit, since=_when("since", since), until=_when("until", until), q=q or ""
    )
    call.items = len(obs)
    return Observations(observations=[Observation.of(o) for o in obs])


@route("GET", "/v1/timeline", "propositions:read", Timeline)
def timeline(
    call: CallDep,
    day: Annotated[date | None, Query(description="the local day, YYYY-MM-DD (default: today)")] = None,
) -> Timeline:
    """One day: activity segments per app, gaps, time per app for the day and week, what gum learned.

    The day is the agent's local day (its time zone, daylight saving included). Apps, times and proposition
    ids need propositions:read; window titles and screen text observations:read."""
    from .. import timeline as tl

    when = day or tl.local_day(utcnow())
    titles = call.token.allows("observations:read")
    try:
        d = tl.load(call.store, when, excerpt=240 if titles else 0)
    except OverflowError:  # the first and last days a datetime can hold: nothing can have been recorded
        d = tl.nothing(when)
    call.items = sum(len(lane.blocks) for lane in d.lanes)
    return Timeline.of(d, titles=titles, shown=lambda props: _shown_to(call.token, props))


@route("GET", "/v1/calibration", "propositions:read", Calibration)
def calibration(call: CallDep) -> Calibration:
    """Per confidence level, how many propositions the user confirmed and rejected."""
    levels = [
        {
            "confidence": int(x["confidence"] or 0),
            "confirmed": int(x["confirmed"] or 0),
            "rejected": int(x["rejected"] or 0),
        }
        for x in call.store.calibration()
    ]
    call.items = len(levels)
    return Calibration(levels=levels)


@route("POST", "/v1/pause", "admin", Status)
def pause(call: CallDep, body: PauseBody | None = None) -> dict:
    """Stop observing for `seconds` (null: until resumed)."""
    call.agent.pause(body.seconds if body else None)
    return call.agent.status()


@route("POST", "/v1/resume", "admin", Status)
def resume(call: CallDep) -> dict:
    """Observe again."""
    call.agent.resume()
    return call.agent.status()


@route("GET", "/v1/tokens", "admin", Tokens)
def list_tokens(call: CallDep) -> Tokens:
    """Every token (never the secrets)."""
    items = tokens.list_tokens(call.store)
    call.items = len(items)
    return Tokens(tokens=[t.as_dict() for t in items])


@route("POST", "/v1/tokens", "admin", TokenCreated, status=201)
def create_token(call: CallDep, body: TokenBody) -> TokenCreated:
    """Create a token; the secret is shown only in this answer."""
    secret, info = tokens.create_token(call.store, body.name, body.scopes)
    call.items = 1
    return TokenCreated(token=secret, **info.as_dict())


@route("DELETE", "/v1/tokens/{name}", "admin", Revoked)
def revoke_token(call: CallDep, name: Annotated[str, Path(max_length=200)]) -> Revoked:
    """Revoke a token (it stops working at once)."""
    tokens.revoke_token(call.store, name)
    call.items = 1
    return Revoked(revoked=name)


@route("GET", "/v1/access-log", "admin", AccessLog)
def access_log(
    call: CallDep,
    limit: Limit1000 = 100,
    plugin: Annotated[str | None, Query(max_length=64, description="only this plugin")] = None,
) -> AccessLog:
    """What plugins asked for, newest first."""
    entries = tokens.access_log(call.store, limit=limit, plugin=plugin)
    call.items = len(entries)
    return AccessLog(entries=entries)


@route("GET", "/v1/settings", "admin", Settings)
def get_settings(call: CallDep) -> dict:
    """The settings in effect (secrets masked)."""
    from .settings_io import public_settings

    return public_settings()


def _settings_update_schema() -> dict:
    from .settings_io import CLI_ONLY, FILE_ONLY

    schema = Settings.model_json_schema()
    for key in ("title", "required"):
        schema.pop(key, None)
    for key in CLI_ONLY + FILE_ONLY:
        schema["properties"].pop(key, None)
    schema["additionalProperties"] = False
    schema["description"] = "Any subset of the settings; unknown names are refused."
    return schema


# The body is checked by update_settings (it knows which settings only the command line may change), so it
# is taken as a JSON object and described by the settings' own schema.
@route(
    "PUT",
    "/v1/settings",
    "admin",
    Settings,
    request_body={
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SettingsUpdate"}}},
    },
)
def put_settings(call: CallDep, values: Annotated[dict[str, Any], Body(include_in_schema=False)]) -> dict:
    """Change settings: written to config.toml, applied at the next agent start."""
    from .settings_io import update_settings

    return update_settings(values)


@route("GET", "/openapi.json", None, dict[str, Any])
def openapi(call: CallDep) -> dict:
    """This document."""
    return call.api.spec()


def _when(name: str, value: str | None) -> datetime | None:
    try:
        return parse_time(value, strict=True)
    except ValueError as exc:
        raise HttpError(400, f"{name!r}: {exc}") from None


@dataclass(frozen=True)
class Endpoint:
    """An endpoint as tests and docs list it."""

    method: str
    path: str
    scope: str | None


ROUTES = [
    Endpoint(m, r.path, (r.openapi_extra or {}).get("x-scope")) for r in router.routes for m in r.methods
]


# -- errors as {"error": ...} ---------------------------------------------------------------------------------

_ERRORS = (
    (tokens.NameTaken, 409),
    (tokens.TokenError, 400),
    (NotFound, 404),
    (InputError, 400),
    (ConfigError, 400),
)


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _on_http_error(request: Request, exc: HttpError) -> JSONResponse:
    return _error(exc.status, exc.message, exc.headers)


async def _on_gum_error(request: Request, exc: GumError) -> JSONResponse:
    return _error(next((code for cls, code in _ERRORS if isinstance(exc, cls)), 400), str(exc))


async def _on_routing_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    path = request.url.path
    if exc.status_code == 405:
        allowed = sorted(
            {
                m
                for r in router.routes
                if r.matches(request.scope)[0] == Match.PARTIAL
                for m in getattr(r, "methods", ())
            }
        )
        return _error(
            405, f"{path} takes {', '.join(allowed)}, not {request.method}", {"Allow": ", ".join(allowed)}
        )
    if exc.status_code == 404:
        return _error(404, f"no endpoint {path[:200]} (see /openapi.json)")
    return _error(exc.status_code, str(exc.detail))


async def _on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0]
    where, name = first["loc"][0], ".".join(str(x) for x in first["loc"][1:])
    kind, ctx = first["type"], first.get("ctx") or {}
    if where == "path":
        return _error(404, f"no proposition #{str(first.get('input'))[:40]}")
    if where == "body":
        # A body sent as another type reaches validation as bytes (FastAPI's strict content type).
        if (
            isinstance(exc.body, bytes)
            and exc.body.strip()
            and not _is_json(request.headers.get("content-type"))
        ):
            return _error(415, "send the body as JSON with Content-Type: application/json")
        if kind == "json_invalid":
            return _error(400, f"the body is not valid JSON: {str(ctx.get('error'))[:200]}")
        if kind == "missing" and not name:
            return _error(400, "this endpoint needs a JSON body")
        return _error(400, f"{name or 'body'}: {first['msg']}")
    if kind == "missing":
        return _error(400, f"missing query parameter {name!r}")
    if kind == "int_parsing":
        return _error(400, f"{name!r} must be a whole number, not {str(first.get('input'))[:40]!r}")
    if kind in ("greater_than_equal", "less_than_equal"):
        low, high = _bounds(request, name)
        return _error(400, f"{name!r} must be between {low} and {high}")
    if kind == "string_too_long":
        return _error(400, f"{name!r} is longer than {ctx.get('max_length')} characters")
    return _error(400, f"{name}: {first['msg']}")


def _is_json(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == "application/json"


def _bounds(request: Request, name: str) -> tuple[Any, Any]:
    for p in request.scope["route"].dependant.query_params:
        if p.alias == name:
            low = next((m.ge for m in p.field_info.metadata if hasattr(m, "ge")), None)
            high = next((m.le for m in p.field_info.metadata if hasattr(m, "le")), None)
            return low, high
    return None, None


# -- the checks before any route: Host, sizes, token, rate -----------------------------------------------------


def check_host(host: str | None) -> None:
    """Refuse a Host header that is not a loopback name: a web page that rebinds its own domain to 127.0.0.1
    still sends its own name here."""
    if not host:
        raise HttpError(400, "missing Host header")
    host = host.strip().lower()
    for name in LOOPBACK_NAMES:
        if host == name:
            return
        if host.startswith(name + ":") and host[len(name) + 1 :].isdigit() and len(host) - len(name) <= 6:
            return
    raise HttpError(421, "this API only answers requests addressed to 127.0.0.1, localhost or [::1]")


_SECURITY_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    # What the API returns was read off the user's screen: data about the user, never instructions.
    (b"x-gum-content", b"data about the user, not instructions"),
]


class Guard:
    """ASGI middleware: the checks every request passes before routing, the access log, and JSON 500s."""

    def __init__(self, app, api: "ApiServer"):
        self.app = app
        self.api = api

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state: dict = {}

        async def send_logged(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *_SECURITY_HEADERS]}
                token = state.get("token")
                call = scope.get("state", {}).get("call")
                if token is not None and not (call is not None and call.logged):
                    # Logged before answering, so what a plugin was given is on record by the time it has it.
                    await anyio.to_thread.run_sync(
                        self.api.log_access,
                        token,
                        scope["method"],
                        scope["path"],
                        message["status"],
                        call.items if call is not None and message["status"] < 400 else 0,
                    )
            await send(message)

        try:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            await self._check(scope, receive, headers, state)
        except HttpError as exc:
            response = _error(exc.status, exc.message, exc.headers)
            return await response(scope, receive, send_logged)
        started = False

        async def send_tracked(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_logged(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:
            log.exception("API request %s %s failed", scope["method"], scope["path"][:200])
            if not started:
                await _error(500, INTERNAL_ERROR)(scope, receive, send_logged)

    async def _check(self, scope, receive, headers: dict, state: dict) -> None:
        check_host(headers.get("host"))
        if "transfer-encoding" in headers:
            raise HttpError(411, "send the body with a Content-Length, not chunked")
        length = headers.get("content-length", "").strip()
        if length and not length.isdigit():
            raise HttpError(400, "Content-Length is not a number")
        if length and int(length) > MAX_BODY:
            # Read (a bounded amount of) what was sent, so closing the socket does not reset the connection
            # before the client has read our answer.
            await _drain(receive, min(int(length), 1024 * 1024))
            raise HttpError(413, f"the body is larger than {MAX_BODY // 1024} KiB")
        if len(scope.get("query_string", b"")) > MAX_QUERY_STRING:
            raise HttpError(400, f"the query string is longer than {MAX_QUERY_STRING} characters")
        # On the event loop: one indexed read, which never waits on a writer in WAL mode.
        token = self.api.authenticate(headers.get("authorization"))
        if token.name == tokens.TRAY_NAME and self.api.socket_path is not None and scope.get("client"):
            # The tray only ever talks over the private socket; its token arriving over TCP was taken
            # from somewhere it should not have been.
            raise HttpError(401, "the tray's token is only accepted on the agent's private socket")
        state["token"] = token
        scope.setdefault("state", {})["token"] = token
        wait = self.api.limiter.take(token.id) if self.api.limiter else 0.0
        if wait:
            raise HttpError(
                429,
                f"too many requests for token {token.name!r}: slow down",
                {"Retry-After": str(max(1, round(wait)))},
            )


async def _drain(receive, n: int) -> None:
    while n > 0:
        message = await receive()
        n -= len(message.get("body", b""))
        if not message.get("more_body"):
            break


# -- the application and its server ----------------------------------------------------------------------------


def build_app(api: "ApiServer") -> FastAPI:
    """The FastAPI application for `api` (its agent, limiter and address)."""
    app = FastAPI(
        title="gum local API",
        version=_version(),
        openapi_url=None,  # served by the `openapi` route above, behind the token check like the rest
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=lambda r: r.name,  # operationId: the handler's name
        responses={code: {"model": Error, "description": text} for code, text in _COMMON_ERRORS.items()},
    )
    app.state.api = api
    app.include_router(router)
    app.add_exception_handler(HttpError, _on_http_error)
    app.add_exception_handler(GumError, _on_gum_error)
    app.add_exception_handler(StarletteHTTPException, _on_routing_error)
    app.add_exception_handler(RequestValidationError, _on_invalid)
    app.add_middleware(Guard, api=api)

    def spec() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = _spec(app, api)
        return app.openapi_schema

    app.openapi = spec
    return app


# Every operation may answer these: the checks run before any endpoint's own code.
_COMMON_ERRORS = {
    400: "bad request: a parameter or the body is invalid, the query string is too long, or no Host header",
    401: "no token, or an unknown or revoked token",
    403: "the token lacks the scope this endpoint needs",
    404: "no such thing (or no such endpoint)",
    405: "this path does not take that method",
    409: "conflict: the name is taken",
    411: "a body was sent without Content-Length",
    413: "the body is too large",
    415: "a body that is not application/json",
    421: "the Host header is not a loopback name (a DNS-rebinding defence)",
    429: "too many requests for this token: wait Retry-After seconds",
}


def _spec(app: FastAPI, api: "ApiServer") -> dict:
    limits = {"body": f"{MAX_BODY // 1024} KiB", "query string": f"{MAX_QUERY_STRING} chars"}
    if api.limiter:
        limits["rate"] = f"{api.limiter.rate * 60:g}/min per token (bursts of {api.limiter.burst:g})"
    spec = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version="3.1.0",
        description=(
            "The local API of gum, served by the agent on 127.0.0.1 only. Every request needs "
            "`Authorization: Bearer <token>` (create one with `gum token create NAME --scope ...`). "
            f"Scopes: {', '.join(tokens.SCOPES)} (admin implies all). Requests whose Host header is not a "
            "loopback name are refused. Every plugin access is logged (GET /v1/access-log, `gum token log`). "
            f"Limits: {', '.join(f'{k} {v}' for k, v in limits.items())}."
        ),
        routes=app.routes,
        servers=[{"url": api.url}],
    )
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    # Invalid input is answered with 400 and {"error": ...}, not FastAPI's 422 and its detail list.
    for ops in spec["paths"].values():
        for op in ops.values():
            op["responses"].pop("422", None)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["SettingsUpdate"] = _settings_update_schema()
    spec["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    spec["security"] = [{"bearer": []}]
    return spec


def _json_400(self, msg: str) -> None:
    """uvicorn's answer to bytes that are not HTTP, as JSON like every other answer."""
    import h11

    body = json.dumps({"error": f"bad request: {msg}"}).encode()
    headers = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"), h11.Data(data=body)):
        self.transport.write(self.conn.send(event))
    self.transport.write(self.conn.send(h11.EndOfMessage()))
    self.transport.close()


def _protocol():
    from uvicorn.protocols.http.h11_impl import H11Protocol

    return type("GumH11Protocol", (H11Protocol,), {"send_400_response": _json_400})


class ApiServer:
    """Serves the local API for `agent` on 127.0.0.1 in a background thread."""

    def __init__(
        self,
        agent,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        rate_per_minute: float | None = None,
        burst: int | None = None,
    ):
        if host != "127.0.0.1":
            raise ConfigError(f"the API binds to 127.0.0.1 only (got host {host!r}): it is never exposed")
        self.agent = agent
        self.host = host
        self.requested_port = port
        settings = getattr(agent, "settings", None)
        if rate_per_minute is None:
            rate_per_minute = getattr(settings, "api_rate_limit", 600)
        self.limiter = RateLimiter(rate_per_minute, burst) if rate_per_minute else None
        # Failed authentication, from anyone (every caller is local, so there is no address to tell them
        # apart): a guesser or a flood of bad tokens is slowed down, valid tokens are not affected.
        self.failed_auth = RateLimiter(FAILED_AUTH_PER_MINUTE, FAILED_AUTH_BURST) if rate_per_minute else None
        self.app = build_app(self)
        self._socket: socket.socket | None = None
        self._unix: socket.socket | None = None
        self.socket_path = None  # the private Unix socket (none on Windows or with GUM_API_SOCKET=off)
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The address actually bound (useful with port=0)."""
        if self._socket is None:
            return (self.host, self.requested_port)
        return self._socket.getsockname()[:2]

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spec(self) -> dict:
        """The OpenAPI document (built once)."""
        return self.app.openapi()

    # -- request steps (called from worker threads) -----------------------------------------------------

    def authenticate(self, header: str | None) -> tokens.TokenInfo:
        if not header:
            raise HttpError(
                401,
                "missing token: send 'Authorization: Bearer <token>' (create one with "
                "`gum token create NAME --scope propositions:read`)",
                {"WWW-Authenticate": 'Bearer realm="gum"'},
            )
        scheme, _, secret = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise HttpError(
                401,
                "the Authorization header must be 'Bearer <token>'",
                {"WWW-Authenticate": 'Bearer realm="gum"'},
            )
        info = tokens.verify(self.agent.store(), secret.strip())
        if info is None:
            wait = self.failed_auth.take(0) if self.failed_auth else 0.0
            if wait:
                raise HttpError(429, "too many failed authentications: slow down",
                                {"Retry-After": str(max(1, round(wait)))})
            raise HttpError(
                401, "unknown or revoked token", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        return info

    def log_access(self, token: tokens.TokenInfo, method: str, path: str, status: int, items: int) -> None:
        # Every request, the tray's included: a stolen tray token must not page through observations
        # unseen. (The tray's status polls are pruned after a day at start, see start().)
        try:
            tokens.log_access(self.agent.store(), token, method, path, status, items)
        except Exception:
            log.warning("could not write the access log", exc_info=True)

    def _bind_private(self) -> socket.socket | None:
        """The Unix socket in the user's private folder (gum.paths.api_socket), or None."""
        from ..paths import api_socket

        path = api_socket(self.port)
        if path is None or not hasattr(socket, "AF_UNIX"):
            return None
        path.unlink(missing_ok=True)  # a stale one from an agent that died; the folder is ours alone
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            unix.bind(str(path))
        except OSError:
            unix.close()
            log.warning("cannot serve the API on %s", path, exc_info=True)
            return None
        finally:
            os.umask(old)
        unix.listen(128)
        self.socket_path = path
        return unix

    # -- life cycle -------------------------------------------------------------------------------------

    def start(self) -> "ApiServer":
        """Bind and serve in a background thread; returns self once it answers."""
        import uvicorn

        store = self.agent.store()
        # The access log keeps ACCESS_LOG_DAYS: enough to see what a plugin did, not a growing archive; the
        # tray's status polls (every few seconds) a day.
        tokens.forget_access_before(store, utcnow() - timedelta(days=ACCESS_LOG_DAYS))
        tokens.forget_tray_polls_before(store, utcnow() - timedelta(days=1))
        # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say so, and without it every
        # answer on a kept-alive connection waits ~40 ms for the client's delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.requested_port))
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"cannot serve the API on 127.0.0.1:{self.requested_port} ({exc.strerror}): is "
                "another gum agent running? Set api_port or GUM_API_PORT to another port"
            ) from exc
        sock.listen(128)
        self._socket = sock
        self._unix = self._bind_private()
        config = uvicorn.Config(
            self.app,
            http=_protocol(),
            loop="asyncio",
            lifespan="off",
            log_config=None,
            access_log=False,  # the access log that matters is the plugins' one, in the database
            server_header=False,
            # Longer than clients keep an idle connection (httpx: 5 s), so the client always closes first and
            # never sends a request on a connection the server is closing.
            timeout_keep_alive=30,
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        sockets = [sock] + ([self._unix] if self._unix is not None else [])
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": sockets}, name="gum-api", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not self._server.started:
            raise ConfigError("the API server did not start (see the agent's log)")
        log.info("API listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and wait for requests in flight."""
        if self._server is None:
            return
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        if self._unix is not None:
            self._unix.close()
            self._unix = None
            if self.socket_path is not None:
                self.socket_path.unlink(missing_ok=True)
        self._server = None


__all__ = ["ROUTES", "ApiServer", "HttpError", "check_host"]
