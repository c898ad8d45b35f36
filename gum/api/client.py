"""A small synchronous client for the local API (used by the tray app, `gum mcp` and plugins).

    from gum.api.client import Client, ApiError
    c = Client(token="gum_...")  # base_url defaults to http://127.0.0.1:<GUM_API_PORT or 8765>
    for p in c.query("what is the user working on?", limit=5):
        print(p["confidence"], p["text"])

List endpoints return the list itself (query() returns the propositions, not {"propositions": [...]}).
Every failure raises ApiError(status, message); status 0 means the agent could not be reached.
Safe to share between threads (httpx.Client is).
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from . import DEFAULT_PORT


class ApiError(Exception):
    """The API refused a request or could not be reached (status 0)."""

    def __init__(self, status: int, message: str):
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message


def default_base_url() -> str:
    """http://127.0.0.1:<GUM_API_PORT, else 8765>."""
    port = os.environ.get("GUM_API_PORT") or str(DEFAULT_PORT)
    return f"http://127.0.0.1:{port}"


def _private_socket(base_url: str) -> str | None:
    from urllib.parse import urlsplit

    from ..paths import api_socket

    parts = urlsplit(base_url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1") or parts.port is None:
        return None
    path = api_socket(parts.port)
    return str(path) if path is not None else None


class Client:
    """One method per endpoint of the local API (see notes/API_CONTRACT.md and GET /openapi.json)."""

    def __init__(self, base_url: str | None = None, token: str | None = None, *, timeout: float = 30.0,
                 socket_path: str | None = None):
        self.base_url = (base_url or default_base_url()).rstrip("/")
        self.token = token if token is not None else os.environ.get("GUM_API_TOKEN", "")
        # The agent also serves on a Unix socket in a private folder (gum.paths.api_socket), and the
        # token goes only there: a socket in a 0700 folder can only be the user's own agent, while anyone
        # can listen on 127.0.0.1:PORT while the agent is down. No fallback to TCP then: a squatter on the
        # port would get the token.
        self.socket_path = socket_path if socket_path is not None else _private_socket(self.base_url)
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
            # The API is on loopback: never route it through a proxy from the environment.
            trust_env=False,
            transport=httpx.HTTPTransport(uds=self.socket_path) if self.socket_path else None,
        )

    # -- plumbing ------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, params: dict | None = None, json: Any = None) -> Any:
        params = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            resp = self._http.request(method, path, params=params or None, json=json)
        except httpx.TimeoutException as exc:
            raise ApiError(0, f"the gum agent at {self.base_url} did not answer in time ({exc})") from exc
        except httpx.HTTPError as exc:
            raise ApiError(
                0, f"cannot reach the gum agent at {self.base_url}: is it running? ({exc})"
            ) from exc
        try:
            data = resp.json()
        except ValueError:
            data = None
        if resp.status_code >= 400:
            message = data.get("error") if isinstance(data, dict) else None
            raise ApiError(resp.status_code, message or resp.text[:200] or resp.reason_phrase)
        if data is None:
            raise ApiError(resp.status_code, f"the agent answered {path} with something that is not JSON")
        return data

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- endpoints -----------------------------------------------------------------------------------

    def health(self) -> dict:
        """{"ok": true, "version": ...}; works with any valid token."""
        return self._request("GET", "/v1/health")

    def status(self) -> dict:
        """The agent's status: state, paused, busy, model, observers, queue, counts, last_error."""
        return self._request("GET", "/v1/status")

    def query(
        self, q: str, limit: int = 10, since: str | None = None, until: str | None = None
    ) -> list[dict]:
        """Propositions relevant to `q`, best first (same ranking as `gum query`)."""
        return self._request(
            "GET", "/v1/query", params={"q": q, "limit": limit, "since": since, "until": until}
        )["propositions"]

    def recent(self, limit: int = 10, since: str | None = None) -> list[dict]:
        """The newest active propositions."""
        return self._request("GET", "/v1/propositions", params={"limit": limit, "since": since})[
            "propositions"
        ]

    def get(self, id: int) -> dict:
        """One proposition with reasoning, evidence (with observations:read) and history."""
        return self._request("GET", f"/v1/propositions/{int(id)}")

    def add(self, text: str, confidence: int | None = None) -> dict:
        """Add a proposition by hand."""
        body: dict = {"text": text}
        if confidence is not None:
            body["confidence"] = confidence
        return self._request("POST", "/v1/propositions", json=body)

    def confirm(self, id: int) -> dict:
        return self._request("POST", f"/v1/propositions/{int(id)}/confirm")

    def reject(self, id: int) -> dict:
        return self._request("POST", f"/v1/propositions/{int(id)}/reject")

    def clear_feedback(self, id: int) -> dict:
        """Undo a confirm or reject."""
        return self._request("DELETE", f"/v1/propositions/{int(id)}/feedback")

    def edit(self, id: int, text: str | None = None, confidence: int | None = None) -> dict:
        """Rewrite a proposition; returns the new version."""
        body = {k: v for k, v in {"text": text, "confidence": confidence}.items() if v is not None}
        return self._request("PATCH", f"/v1/propositions/{int(id)}", json=body)

    def revoke(self, id: int, with_evidence: bool = False) -> dict:
        return self._request(
            "POST", f"/v1/propositions/{int(id)}/revoke", json={"with_evidence": with_evidence}
        )

    def observations(
        self, limit: int = 50, q: str | None = None, since: str | None = None, until: str | None = None
    ) -> list[dict]:
        """Raw observations, newest first (needs observations:read)."""
        return self._request(
            "GET", "/v1/observations", params={"limit": limit, "q": q, "since": since, "until": until}
        )["observations"]

    def calibration(self) -> list[dict]:
        """[{"confidence", "confirmed", "rejected"}, ...] per confidence level."""
        return self._request("GET", "/v1/calibration")["levels"]

    def timeline(self, day: str | None = None) -> dict:
        """One local day (YYYY-MM-DD, default today): lanes of activity per app, gaps, totals, what was learned."""
        return self._request("GET", "/v1/timeline", params={"day": day})

    def pause(self, seconds: float | None = None) -> dict:
        """Stop observing for `seconds` (None: until resume); returns the status."""
        return self._request("POST", "/v1/pause", json={"seconds": seconds})

    def resume(self) -> dict:
        return self._request("POST", "/v1/resume")

    def tokens(self) -> list[dict]:
        return self._request("GET", "/v1/tokens")["tokens"]

    def create_token(self, name: str, scopes: list[str]) -> dict:
        """{"token": <the secret, shown once>, "name", "scopes", ...}."""
        return self._request("POST", "/v1/tokens", json={"name": name, "scopes": list(scopes)})

    def revoke_token(self, name: str) -> dict:
        return self._request("DELETE", f"/v1/tokens/{name}")

    def access_log(self, limit: int = 100, plugin: str | None = None) -> list[dict]:
        """The newest plugin accesses first."""
        return self._request("GET", "/v1/access-log", params={"limit": limit, "plugin": plugin})["entries"]

    def settings(self) -> dict:
        return self._request("GET", "/v1/settings")

    def update_settings(self, **values) -> dict:
        """Change settings (written to config.toml, applied at the next agent start); returns them all."""
        return self._request("PUT", "/v1/settings", json=values)

    def openapi(self) -> dict:
        """The OpenAPI 3 document of the API."""
        return self._request("GET", "/openapi.json")
