"""The local HTTP API served by the agent on 127.0.0.1 (stdlib http.server: no web framework in the agent).

Every request passes, in order: a loopback Host header (DNS-rebinding defence), size limits, a bearer token
(401), the per-token rate limit (429), the route (404/405), the token's scope (403), then the parameters
(400). Refused requests change nothing; every request by a known token except the tray's own reads is
written to the access log. Requests are served by a fixed pool of worker threads, so each worker keeps one
SQLite connection (agent.store() is per thread) instead of opening one per request.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, GumError, InputError, NotFound
from ..records import utcnow
from . import DEFAULT_PORT, tokens
from .models import AddBody, EditBody, PauseBody, RevokeBody, TokenBody, obs_json, prop_json
from .spec import MAX_ID, Param, Route, build_spec

log = logging.getLogger("gum.api")

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
MAX_BODY = 64 * 1024
MAX_QUERY_STRING = 4096
MAX_Q = 500
WORKERS = 8
ACCESS_LOG_DAYS = 90


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


# -- a request, as the endpoint handlers see it ----------------------------------------------------------


@dataclass
class Request:
    """What a handler gets: the agent, this thread's Store, the caller's token and the checked inputs."""

    agent: object
    token: tokens.TokenInfo
    path_params: dict = field(default_factory=dict)
    query: dict = field(default_factory=dict)
    body: object = None

    @property
    def store(self):
        return self.agent.store()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gum-desktop")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def _visible_lineage(store, prop_id: int):
    """The proposition, unless its lineage was revoked (the store's rule, the same for every caller)."""
    return store.visible(prop_id)


# -- endpoint handlers: each returns (payload, number of items handed out) --------------------------------


def _health(r: Request):
    return {"ok": True, "version": _version()}, 0


def _status(r: Request):
    return r.agent.status(), 0


def _query(r: Request):
    from ..search import query

    props = query(
        r.store, r.query["q"], limit=r.query["limit"], since=r.query["since"], until=r.query["until"]
    )
    return {"propositions": [prop_json(p) for p in props]}, len(props)


def _recent(r: Request):
    from ..search import recent

    props = recent(r.store, limit=r.query["limit"], since=r.query["since"])
    return {"propositions": [prop_json(p) for p in props]}, len(props)


def _get_proposition(r: Request):
    store = r.store
    pid = r.path_params["id"]
    p = _visible_lineage(store, pid)
    may_see = r.token.allows("observations:read")
    evidence = store.evidence(pid)
    history = [h for h in store.history(pid) if h.status != "revoked"]
    return {
        **prop_json(p),
        "reasoning": p.reasoning,
        "model_confidence": p.model_confidence,
        "confidence_detail": p.confidence_detail,
        "evidence": [obs_json(o) for o in evidence] if may_see else [],
        "evidence_withheld": bool(evidence) and not may_see,
        "history": [prop_json(h) for h in history],
    }, 1


def _add_proposition(r: Request):
    body: AddBody = r.body
    p = r.store.add_by_hand(body.text, confidence=body.confidence or 10)
    return prop_json(p), 1


def _confirm(r: Request):
    _visible_lineage(r.store, r.path_params["id"])
    return prop_json(r.store.confirm(r.path_params["id"])), 1


def _reject(r: Request):
    _visible_lineage(r.store, r.path_params["id"])
    return prop_json(r.store.reject(r.path_params["id"])), 1


def _clear_feedback(r: Request):
    """Undo a confirm or reject: feedback back to none (a rejected one active again), its log row gone, so
    calibration does not count a click the user took back."""
    return prop_json(r.store.clear_feedback(r.path_params["id"])), 1


def _edit(r: Request):
    body: EditBody = r.body
    if body.text is None and body.confidence is None:
        raise HttpError(400, "give text and/or confidence")
    _visible_lineage(r.store, r.path_params["id"])
    return prop_json(r.store.edit(r.path_params["id"], text=body.text, confidence=body.confidence)), 1


def _revoke(r: Request):
    body: RevokeBody = r.body
    r.store.get(r.path_params["id"])  # 404 for an id that never existed
    return prop_json(r.store.revoke(r.path_params["id"], with_evidence=body.with_evidence)), 1


def _observations(r: Request):
    obs = r.store.observations(
        limit=r.query["limit"], since=r.query["since"], until=r.query["until"], q=r.query["q"] or ""
    )
    return {"observations": [obs_json(o) for o in obs]}, len(obs)


def _calibration(r: Request):
    levels = [
        {
            "confidence": int(x["confidence"] or 0),
            "confirmed": int(x["confirmed"] or 0),
            "rejected": int(x["rejected"] or 0),
        }
        for x in r.store.calibration()
    ]
    return {"levels": levels}, len(levels)


def _pause(r: Request):
    body: PauseBody = r.body
    r.agent.pause(body.seconds)
    return r.agent.status(), 0


def _resume(r: Request):
    r.agent.resume()
    return r.agent.status(), 0


def _list_tokens(r: Request):
    items = tokens.list_tokens(r.store)
    return {"tokens": [t.as_dict() for t in items]}, len(items)


def _create_token(r: Request):
    body: TokenBody = r.body
    secret, info = tokens.create_token(r.store, body.name, body.scopes)
    return {"token": secret, **info.as_dict()}, 1


def _revoke_token(r: Request):
    name = r.path_params["name"]
    tokens.revoke_token(r.store, name)
    return {"revoked": name}, 1


def _access_log(r: Request):
    entries = tokens.access_log(r.store, limit=r.query["limit"], plugin=r.query["plugin"])
    return {"entries": entries}, len(entries)


def _get_settings(r: Request):
    from .settings_io import public_settings

    return public_settings(), 0


def _put_settings(r: Request):
    from .settings_io import update_settings

    return update_settings(r.body), 0


def _openapi(r: Request):
    return r.agent_api.spec(), 0  # type: ignore[attr-defined]


_SINCE = Param(
    "since", "time", description="only newer: 30m, 3h, 2d, 1w ago, a date or an RFC 3339 date-time"
)
_UNTIL = Param(
    "until", "time", description="only older: 30m, 3h, 2d, 1w ago, a date or an RFC 3339 date-time"
)


def _limit(default: int, maximum: int) -> Param:
    return Param(
        "limit", "int", default=default, minimum=1, maximum=maximum, description=f"at most {maximum}"
    )


ROUTES: list[Route] = [
    Route("GET", "/v1/health", None, _health, "Is the agent up? (any valid token)", response="Health"),
    Route(
        "GET",
        "/v1/status",
        "propositions:read",
        _status,
        "The agent's state, observers, model, queue, counts and last error",
        response="Status",
    ),
    Route(
        "GET",
        "/v1/query",
        "propositions:read",
        _query,
        "Propositions relevant to q, best first (the ranking of `gum query`)",
        params=(
            Param("q", required=True, max_length=MAX_Q, description="free text"),
            _limit(10, 100),
            _SINCE,
            _UNTIL,
        ),
        response="Propositions",
    ),
    Route(
        "GET",
        "/v1/propositions",
        "propositions:read",
        _recent,
        "The newest active propositions",
        params=(_limit(10, 1000), _SINCE),
        response="Propositions",
    ),
    Route(
        "GET",
        "/v1/propositions/{id}",
        "propositions:read",
        _get_proposition,
        "One proposition with reasoning, history and (with observations:read) its evidence",
        response="PropositionDetail",
    ),
    Route(
        "POST",
        "/v1/propositions",
        "feedback:write",
        _add_proposition,
        "Add a proposition by hand",
        body=AddBody,
        body_required=True,
        response="Proposition",
        status=201,
    ),
    Route(
        "POST",
        "/v1/propositions/{id}/confirm",
        "feedback:write",
        _confirm,
        "Say a proposition is true",
        response="Proposition",
    ),
    Route(
        "POST",
        "/v1/propositions/{id}/reject",
        "feedback:write",
        _reject,
        "Say a proposition is false (hidden, never inferred again)",
        response="Proposition",
    ),
    Route(
        "DELETE",
        "/v1/propositions/{id}/feedback",
        "feedback:write",
        _clear_feedback,
        "Undo a confirm or reject (a rejected proposition becomes active again)",
        response="Proposition",
    ),
    Route(
        "PATCH",
        "/v1/propositions/{id}",
        "feedback:write",
        _edit,
        "Rewrite a proposition (a new version the engine will not overwrite)",
        body=EditBody,
        body_required=True,
        response="Proposition",
    ),
    Route(
        "POST",
        "/v1/propositions/{id}/revoke",
        "feedback:write",
        _revoke,
        "Forget a proposition (and optionally its evidence): never shown or inferred again",
        body=RevokeBody,
        response="Proposition",
    ),
    Route(
        "GET",
        "/v1/observations",
        "observations:read",
        _observations,
        "Raw observations, newest first",
        params=(_limit(50, 200), Param("q", max_length=MAX_Q, description="free text"), _SINCE, _UNTIL),
        response="Observations",
    ),
    Route(
        "GET",
        "/v1/calibration",
        "propositions:read",
        _calibration,
        "Per confidence level, how many propositions the user confirmed and rejected",
        response="Calibration",
    ),
    Route(
        "POST",
        "/v1/pause",
        "admin",
        _pause,
        "Stop observing for `seconds` (null: until resumed)",
        body=PauseBody,
        response="Status",
    ),
    Route("POST", "/v1/resume", "admin", _resume, "Observe again", response="Status"),
    Route("GET", "/v1/tokens", "admin", _list_tokens, "Every token (never the secrets)", response="Tokens"),
    Route(
        "POST",
        "/v1/tokens",
        "admin",
        _create_token,
        "Create a token; the secret is shown only in this answer",
        body=TokenBody,
        body_required=True,
        response="TokenCreated",
        status=201,
    ),
    Route(
        "DELETE",
        "/v1/tokens/{name}",
        "admin",
        _revoke_token,
        "Revoke a token (it stops working at once)",
        response="Revoked",
    ),
    Route(
        "GET",
        "/v1/access-log",
        "admin",
        _access_log,
        "What plugins asked for, newest first",
        params=(_limit(100, 1000), Param("plugin", max_length=64, description="only this plugin")),
        response="AccessLog",
    ),
    Route(
        "GET",
        "/v1/settings",
        "admin",
        _get_settings,
        "The settings in effect (secrets masked)",
        response="Settings",
    ),
    Route(
        "PUT",
        "/v1/settings",
        "admin",
        _put_settings,
        "Change settings: written to config.toml, applied at the next agent start",
        body="object",
        body_required=True,
        response="Settings",
    ),
    Route("GET", "/openapi.json", None, _openapi, "This document", response="OpenAPI"),
]


# -- input checking ---------------------------------------------------------------------------------------


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


def _parse_query(route: Route, raw: str) -> dict:
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, max_num_fields=20, errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpError(400, f"cannot read the query string: {exc}") from None
    known = {p.name: p for p in route.params}
    values: dict = {}
    for key, value in pairs:
        if key not in known:
            expected = ", ".join(known) or "none"
            raise HttpError(400, f"unknown query parameter {key!r} (this endpoint takes: {expected})")
        if key in values:
            raise HttpError(400, f"query parameter {key!r} given twice")
        values[key] = value
    out: dict = {}
    for p in route.params:
        raw_value = values.get(p.name)
        if raw_value is None:
            if p.required:
                raise HttpError(400, f"missing query parameter {p.name!r}")
            out[p.name] = p.default
            continue
        if p.max_length is not None and len(raw_value) > p.max_length:
            raise HttpError(400, f"{p.name!r} is longer than {p.max_length} characters")
        out[p.name] = _convert(p, raw_value)
    return out


def _convert(p: Param, value: str):
    if p.kind == "int":
        v = value
        if not re.fullmatch(r"-?[0-9]{1,19}", v):
            raise HttpError(400, f"{p.name!r} must be a whole number, not {value[:40]!r}")
        n = int(v)
        if (p.minimum is not None and n < p.minimum) or (p.maximum is not None and n > p.maximum):
            raise HttpError(400, f"{p.name!r} must be between {p.minimum} and {p.maximum}")
        return n
    if p.kind == "time":
        return parse_time(p.name, value)
    return value


_RELATIVE = re.compile(r"^([0-9]{1,9}(?:\.[0-9]{1,6})?)(m|min|h|d|w)$")
_DATE_TIME = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))$"
)
_DATE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
_SECONDS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_EARLIEST = datetime(1, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)


def parse_time(name: str, value: str) -> datetime | None:
    """A time parameter: "30m", "3h", "2d", "1w" ago, an RFC 3339 date-time, or a date (UTC).

    Stricter than the CLI on purpose: the OpenAPI spec says exactly what is accepted. Times beyond what a
    datetime can hold are clamped, since "since 10 million weeks ago" simply means "since ever".
    """
    m = _RELATIVE.match(value)
    if m:
        try:
            return utcnow() - timedelta(seconds=float(m.group(1)) * _SECONDS[m.group(2)])
        except OverflowError:
            return _EARLIEST
    m = _DATE_TIME.match(value) or _DATE.match(value)
    if not m:
        raise HttpError(
            400,
            f"{name!r}: {value[:40]!r} is not a time: use 30m, 3h, 2d, 1w, a date (2024-05-01) "
            "or an RFC 3339 date-time (2024-05-01T09:00:00Z)",
        )
    g = m.groups()
    try:
        year = max(1, int(g[0]))  # year 0000 is valid RFC 3339 but not a Python date: the earliest will do
        if len(g) == 3:
            return datetime(year, int(g[1]), int(g[2]), tzinfo=timezone.utc)
        tz = timezone.utc
        if g[8]:
            sign = 1 if g[8] == "+" else -1
            tz = timezone(sign * timedelta(hours=int(g[9]), minutes=int(g[10])))
        second = min(59, int(g[5]))  # a leap second
        dt = datetime(year, int(g[1]), int(g[2]), int(g[3]), int(g[4]), second, tzinfo=tz)
    except ValueError as exc:
        raise HttpError(400, f"{name!r}: {value[:40]!r} is not a valid date ({exc})") from None
    try:
        return dt.astimezone(timezone.utc)
    except OverflowError:
        return _EARLIEST if dt.year < 100 else _LATEST


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in JSON")


def _parse_body(route: Route, raw: bytes, content_type: str | None):
    if not raw.strip():
        if route.body_required:
            raise HttpError(400, "this endpoint needs a JSON body")
        data: object = {}
    else:
        if (content_type or "").split(";")[0].strip().lower() != "application/json":
            raise HttpError(415, "send the body as JSON with Content-Type: application/json")
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise HttpError(400, f"the body is not valid JSON: {str(exc)[:200]}") from None
    if route.body == "object":
        if not isinstance(data, dict):
            raise HttpError(400, "the body must be a JSON object")
        return data
    model: type[BaseModel] = route.body
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "body"
        raise HttpError(400, f"{where}: {first['msg']}") from None


_ERRORS = (
    (tokens.NameTaken, 409),
    (tokens.TokenError, 400),
    (NotFound, 404),
    (InputError, 400),
    (ConfigError, 400),
)


# -- HTTP plumbing ----------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Garbage on the wire is answered with a status line and headers, not a bare HTTP/0.9 body.
    default_request_version = "HTTP/1.0"
    server_version = "gum"
    sys_version = ""
    timeout = 15  # a client that stalls mid-request frees its worker after this many seconds

    server: _PooledServer

    def log_message(self, format, *args):
        log.debug("%s " + format, self.client_address[0], *args)

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        body = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        # One request per connection: a keep-alive client would otherwise hold a pool worker while idle.
        self.send_header("Connection", "close")
        self.close_connection = True
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error(self, code, message=None, explain=None):
        """Errors raised by http.server itself (bad request line, unknown method) as JSON too."""
        try:
            self._send(code, {"error": message or explain or "bad request"})
        except OSError:
            pass

    def _handle(self, api: ApiServer):
        # The body is read first, whatever the answer: closing a socket with unread data resets the
        # connection, and the client could lose our answer.
        raw = self._read_body()
        check_host(self.headers.get("Host"))
        url = urlsplit(self.path)
        if len(url.query) > MAX_QUERY_STRING:
            raise HttpError(400, f"the query string is longer than {MAX_QUERY_STRING} characters")
        token = api.authenticate(self.headers.get("Authorization"))
        try:
            wait = api.limiter.take(token.id) if api.limiter else 0.0
            if wait:
                raise HttpError(
                    429,
                    f"too many requests for token {token.name!r}: slow down",
                    {"Retry-After": str(max(1, round(wait)))},
                )
            route, path_params = api.match(self.command, url.path)
            if not token.allows(route.scope):
                raise HttpError(
                    403,
                    f"token {token.name!r} lacks the scope {route.scope!r} this endpoint needs "
                    f"(it has: {', '.join(token.scopes)})",
                )
            req = Request(
                agent=api.agent, token=token, path_params=path_params, query=_parse_query(route, url.query)
            )
            if route.body is not None:
                req.body = _parse_body(route, raw, self.headers.get("Content-Type"))
            elif raw.strip():
                raise HttpError(400, "this endpoint takes no body")
            req.agent_api = api  # type: ignore[attr-defined]
            payload, items = route.handler(req)
            return token, route.status, payload, {}, items
        except HttpError as exc:
            raise _Logged(token, exc) from None
        except Exception as exc:  # noqa: BLE001 - carried out with the token, so the access log records it
            raise _Logged(token, exc) from None

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise HttpError(411, "send the body with a Content-Length, not chunked")
        length_header = self.headers.get("Content-Length")
        if not length_header:
            return b""
        if not length_header.strip().isdigit():
            raise HttpError(400, "Content-Length is not a number")
        length = int(length_header)
        if length > MAX_BODY:
            # Read (a bounded amount of) what was sent, so closing the socket does not reset the connection
            # before the client has read our answer.
            self._drain(min(length, 1024 * 1024))
            raise HttpError(413, f"the body is larger than {MAX_BODY // 1024} KiB")
        return self.rfile.read(length)

    def _drain(self, n: int) -> None:
        try:
            while n > 0:
                chunk = self.rfile.read(min(n, 65536))
                if not chunk:
                    break
                n -= len(chunk)
        except OSError:
            pass

    def _dispatch(self) -> None:
        api: ApiServer = self.server.api
        token = None
        status, items = 500, 0
        try:
            try:
                token, status, payload, headers, items = self._handle(api)
            except _Logged as wrapped:
                token, exc = wrapped.token, wrapped.exc
                if isinstance(exc, HttpError):
                    status, payload, headers = exc.status, {"error": exc.message}, exc.headers
                elif isinstance(exc, GumError):
                    status = next((code for cls, code in _ERRORS if isinstance(exc, cls)), 400)
                    payload, headers = {"error": str(exc)}, {}
                else:
                    raise exc from None
            except HttpError as exc:  # refused before a token was known: nothing is written
                status, payload, headers = exc.status, {"error": exc.message}, exc.headers
        except Exception:
            log.exception("API request %s %s failed", self.command, self.path[:200])
            status, payload, headers = 500, {"error": "internal error in the gum agent (see its log)"}, {}
        # Logged before answering, so what a plugin was given is on record by the time it has it.
        if token is not None:
            api.log_access(token, self.command, urlsplit(self.path).path, status, items)
        try:
            self._send(status, payload, headers)
        except OSError:
            log.debug("client went away before the answer to %s %s", self.command, self.path[:200])

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


class _Logged(Exception):
    """A refusal after the token was known (so the access log records it)."""

    def __init__(self, token, exc):
        super().__init__(str(exc))
        self.token = token
        self.exc = exc


class _PooledServer(HTTPServer):
    """An HTTPServer that hands connections to a fixed pool of worker threads."""

    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, address, api: ApiServer, workers: int):
        self.api = api
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gum-api")
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):
        self.pool.submit(self._work, request, client_address)

    def _work(self, request, client_address):
        try:
            self.finish_request(request, client_address)
        except Exception:
            log.debug("connection from %s failed", client_address, exc_info=True)
        finally:
            self.shutdown_request(request)

    def server_close(self):
        super().server_close()
        self.pool.shutdown(wait=True, cancel_futures=True)


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
        workers: int = WORKERS,
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
        self.workers = workers
        self._server: _PooledServer | None = None
        self._thread: threading.Thread | None = None
        self._spec: dict | None = None
        self._routes = {}
        for r in ROUTES:
            self._routes.setdefault(r.path, []).append(r)

    @property
    def port(self) -> int:
        """The port actually bound (useful with port=0)."""
        if self._server is None:
            return self.requested_port
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spec(self) -> dict:
        """The OpenAPI document (built once)."""
        if self._spec is None:
            limits = {"body": f"{MAX_BODY // 1024} KiB", "query string": f"{MAX_QUERY_STRING} chars"}
            if self.limiter:
                limits["rate"] = (
                    f"{self.limiter.rate * 60:g}/min per token (bursts of {self.limiter.burst:g})"
                )
            self._spec = build_spec(ROUTES, _version(), limits=limits)
            self._spec["servers"] = [{"url": self.url}]
        return self._spec

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
            raise HttpError(
                401, "unknown or revoked token", {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        return info

    def match(self, method: str, path: str) -> tuple[Route, dict]:
        allowed = []
        for routes in self._routes.values():
            m = routes[0].regex.match(path)
            if not m:
                continue
            for r in routes:
                if r.method == method:
                    params = {}
                    for k, v in m.groupdict().items():
                        if k == "id":
                            params[k] = int(v)
                            if not 1 <= params[k] <= MAX_ID:
                                raise NotFound(f"no proposition #{v}")
                        else:
                            params[k] = unquote(v)
                    return r, params
                allowed.append(r.method)
        if allowed:
            raise HttpError(
                405,
                f"{path} takes {', '.join(sorted(allowed))}, not {method}",
                {"Allow": ", ".join(sorted(allowed))},
            )
        raise HttpError(404, f"no endpoint {path} (see /openapi.json)")

    def log_access(self, token: tokens.TokenInfo, method: str, path: str, status: int, items: int) -> None:
        # The tray app is the user: its frequent status reads would bury what plugins did.
        if token.name == tokens.TRAY_NAME and method == "GET":
            return
        try:
            tokens.log_access(self.agent.store(), token, method, path, status, items)
        except Exception:
            log.warning("could not write the access log", exc_info=True)

    # -- life cycle -------------------------------------------------------------------------------------

    def start(self) -> ApiServer:
        """Bind and serve in a background thread; returns self."""
        store = self.agent.store()
        tray = os.environ.get("GUM_TRAY_TOKEN")
        if tray:
            tokens.register_tray_token(store, tray)
        # The access log keeps ACCESS_LOG_DAYS: enough to see what a plugin did, not a growing archive.
        tokens.forget_access_before(store, utcnow() - timedelta(days=ACCESS_LOG_DAYS))
        try:
            self._server = _PooledServer((self.host, self.requested_port), self, self.workers)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve the API on 127.0.0.1:{self.requested_port} ({exc.strerror}): is "
                "another gum agent running? Set api_port or GUM_API_PORT to another port"
            ) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="gum-api", daemon=True
        )
        self._thread.start()
        log.info("API listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and wait for requests in flight."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None


__all__ = ["ROUTES", "ApiServer", "HttpError", "check_host"]
