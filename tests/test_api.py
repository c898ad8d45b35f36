"""The local API, served for real on loopback by ApiServer around a real Agent and a real database
(the `agent`, `server` and `seeded` fixtures are in conftest.py)."""

from __future__ import annotations

import hashlib
import json
import socket

import httpx
import pytest
from helpers import free_port

from gum.api import models, tokens
from gum.api.client import ApiError, Client
from gum.api.server import ROUTES, ApiServer


def token(store, name: str, *scopes: str) -> str:
    secret, _ = tokens.create_token(store, name, scopes or tokens.DEFAULT_SCOPES)
    return secret


def get(server, path: str, secret: str | None = None, **headers) -> httpx.Response:
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    return httpx.get(server.url + path, headers=headers, trust_env=False)


def access_log_count(store) -> int:
    return store.db.execute("SELECT COUNT(*) FROM api_access_log").fetchone()[0]


# -- who may ask --------------------------------------------------------------------------------------------


def test_a_request_without_a_token_is_refused_with_401_and_a_json_message(server, seeded):
    r = get(server, "/v1/query?q=thesis")
    assert r.status_code == 401
    assert "Bearer" in r.json()["error"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert "propositions" not in r.text.lower() or "Priya" not in r.text


def test_a_wrong_token_is_refused_with_401(server, store, seeded):
    token(store, "editor", "propositions:read")
    for bad in ("gum_not-a-real-token", "Basic dXNlcjpwYXNz"):
        r = httpx.get(
            server.url + "/v1/propositions", headers={"Authorization": f"Bearer {bad}"}, trust_env=False
        )
        assert r.status_code == 401, bad
        assert "Priya" not in r.text
    r = httpx.get(
        server.url + "/v1/propositions", headers={"Authorization": "Basic dXNlcjpwYXNz"}, trust_env=False
    )
    assert r.status_code == 401 and "Bearer" in r.json()["error"]


def test_a_revoked_token_stops_working_at_once(server, store, seeded):
    secret = token(store, "chat", "propositions:read")
    assert get(server, "/v1/propositions", secret).status_code == 200
    tokens.revoke_token(store, "chat")
    r = get(server, "/v1/propositions", secret)
    assert r.status_code == 401
    assert r.json()["error"] == "unknown or revoked token"


@pytest.mark.parametrize(
    "scopes, method, path, body, needed",
    [
        (("propositions:read",), "GET", "/v1/observations", None, "observations:read"),
        (("propositions:read",), "POST", "/v1/propositions", {"text": "x"}, "feedback:write"),
        (("propositions:read",), "POST", "/v1/propositions/1/confirm", None, "feedback:write"),
        (("observations:read",), "GET", "/v1/query?q=thesis", None, "propositions:read"),
        (("feedback:write",), "GET", "/v1/propositions", None, "propositions:read"),
        (("propositions:read", "feedback:write"), "POST", "/v1/pause", {"seconds": 5}, "admin"),
        (("propositions:read", "observations:read", "feedback:write"), "GET", "/v1/tokens", None, "admin"),
        (("propositions:read",), "GET", "/v1/access-log", None, "admin"),
        (("propositions:read",), "PUT", "/v1/settings", {"user_name": "Mallory"}, "admin"),
    ],
)
def test_a_token_without_the_scope_gets_403_naming_the_missing_scope(
    server, store, agent, seeded, scopes, method, path, body, needed
):
    secret = token(store, "plugin", *scopes)
    before = store.get(seeded["thesis"])
    r = httpx.request(
        method, server.url + path, json=body, headers={"Authorization": f"Bearer {secret}"}, trust_env=False
    )
    assert r.status_code == 403
    assert needed in r.json()["error"]
    assert not agent.is_paused()
    assert store.get(seeded["thesis"]).feedback == before.feedback
    assert store.counts()["propositions"] == {"active": 3, "superseded": 1}


def test_new_tokens_cannot_read_observations_unless_granted(store):
    _, info = tokens.create_token(store, "default-scopes")
    assert info.scopes == ["propositions:read"]
    assert not info.allows("observations:read")


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8765",
        "127.0.0.1.evil.example",
        "localhost.evil.example",
        "attacker.com:80",
        "127.0.0.2",
        "0.0.0.0",
    ],
)
def test_a_foreign_host_header_is_refused_even_with_a_valid_token(server, store, seeded, host):
    secret = token(store, "chat", "admin")
    r = get(server, "/v1/propositions", secret, Host=host)
    assert r.status_code == 421
    assert "127.0.0.1" in r.json()["error"]
    assert "Priya" not in r.text


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "LOCALHOST:{port}", "127.0.0.1:{port}"])
def test_loopback_host_headers_are_accepted(server, store, host):
    secret = token(store, "chat", "propositions:read")
    assert get(server, "/v1/health", secret, Host=host.format(port=server.port)).status_code == 200


def test_no_cors_headers_are_sent_even_to_a_cross_origin_request(server, store, seeded):
    secret = token(store, "chat", "propositions:read")
    r = get(server, "/v1/propositions", secret, Origin="https://evil.example")
    assert r.status_code == 200
    assert not [h for h in r.headers if h.lower().startswith("access-control-")]
    preflight = httpx.request(
        "OPTIONS",
        server.url + "/v1/propositions",
        trust_env=False,
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code >= 400
    assert not [h for h in preflight.headers if h.lower().startswith("access-control-")]


def test_the_server_binds_to_loopback_only_and_refuses_any_other_host(agent):
    from gum.errors import ConfigError

    for host in ("0.0.0.0", "::", "192.168.1.10", "localhost"):
        with pytest.raises(ConfigError, match="127.0.0.1 only"):
            ApiServer(agent, host=host, port=0)
    api = ApiServer(agent, port=0).start()
    try:
        assert api.address[0] == "127.0.0.1"
        assert api.port != 0
    finally:
        api.stop()


def test_a_second_server_on_a_taken_port_fails_with_a_clear_message(server, agent):
    from gum.errors import ConfigError

    with pytest.raises(ConfigError, match="another gum agent"):
        ApiServer(agent, port=server.port).start()


def test_tokens_are_stored_only_as_their_sha256(store):
    secret, _ = tokens.create_token(store, "editor", ["propositions:read"])
    rows = store.db.execute("SELECT * FROM api_tokens").fetchall()
    assert len(rows) == 1
    assert secret not in json.dumps(rows)
    assert hashlib.sha256(secret.encode()).hexdigest() in rows[0]
    assert tokens.verify(store, secret).name == "editor"
    assert tokens.verify(store, secret + "x") is None


def test_token_names_are_checked_and_unique_among_live_tokens(store):
    tokens.create_token(store, "editor")
    with pytest.raises(tokens.NameTaken):
        tokens.create_token(store, "editor")
    tokens.revoke_token(store, "editor")
    tokens.create_token(store, "editor")  # a revoked name can be given out again
    for bad in ("", "has space", "-dash-first", "x" * 65, "tray"):
        with pytest.raises(tokens.TokenError):
            tokens.create_token(store, bad)
    with pytest.raises(tokens.TokenError, match="unknown scope"):
        tokens.create_token(store, "other", ["everything"])


# -- every endpoint, with the right scope --------------------------------------------------------------------


def test_health_and_the_openapi_spec_need_only_a_valid_token(server, store):
    c = Client(server.url, token(store, "feedback-only", "feedback:write"))
    health = c.health()
    assert health["ok"] is True and health["version"]
    spec = c.openapi()
    assert spec["openapi"].startswith("3.")
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert documented == {(r.method, r.path) for r in ROUTES}
    assert get(server, "/openapi.json").status_code == 401


def test_status_reports_the_agents_state(server, store, seeded):
    status = Client(server.url, token(store, "chat", "propositions:read")).status()
    assert status["state"] == "idle", "an agent with no observer running does not say it observes"
    assert status["paused"] is False
    assert status["counts"]["propositions"]["active"] == 3
    assert set(status["queue"]) >= {"pending", "failed"}


def test_query_returns_the_same_ranking_as_gum_query(server, store, seeded):
    from gum.search import query

    c = Client(server.url, token(store, "chat", "propositions:read"))
    got = c.query("protein folding thesis job", limit=3)
    expected = query(store, "protein folding thesis job", limit=3)
    assert [p["id"] for p in got] == [p.id for p in expected]
    assert len(got) == 2
    assert c.query("protein folding thesis")[0]["id"] == seeded["thesis"]
    assert set(got[0]) == set(models.Proposition.model_fields)  # the one proposition shape
    assert got[0]["score"] > 0
    assert c.query("protein", since="1h") and not c.query("protein", until="2000-01-01")


def test_recent_lists_the_newest_active_propositions(server, store, seeded):
    props = Client(server.url, token(store, "chat", "propositions:read")).recent(limit=10)
    assert {p["id"] for p in props} == {seeded["thesis"], seeded["job"], seeded["music"]}
    assert all(p["status"] == "active" for p in props)


def test_one_proposition_comes_with_reasoning_evidence_and_history(server, store, seeded):
    c = Client(server.url, token(store, "tray-like", "propositions:read", "observations:read"))
    p = c.get(seeded["thesis"])
    assert p["reasoning"] == "Chapter 3 on screen."
    assert [o["id"] for o in p["evidence"]] == [seeded["obs"][0]]
    assert "protein folding simulations" in p["evidence"][0]["text"]
    assert [h["version"] for h in p["history"]] == [1, 2]
    assert p["evidence_withheld"] is False


def test_evidence_is_withheld_from_a_token_without_observations_read(server, store, seeded):
    p = Client(server.url, token(store, "chat", "propositions:read")).get(seeded["thesis"])
    assert p["evidence"] == [] and p["evidence_withheld"] is True
    assert "protein folding simulations" not in json.dumps(p)


def test_feedback_confirm_reject_edit_and_add(server, store, seeded):
    c = Client(server.url, token(store, "assistant", "propositions:read", "feedback:write"))
    assert c.confirm(seeded["job"])["feedback"] == "confirmed"
    assert c.reject(seeded["music"])["status"] == "rejected"
    assert seeded["music"] not in [p["id"] for p in c.recent()]
    edited = c.edit(seeded["job"], text="Priya applied for a backend role at Stripe in Dublin", confidence=9)
    assert edited["edited"] is True and edited["version"] == 2 and edited["confidence"] == 9
    assert store.get(seeded["job"]).status == "superseded"
    added = c.add("Priya prefers tea to coffee", confidence=6)
    # A plugin's addition is the plugin's claim (at most 5) until the user confirms it.
    assert added["source"] == "plugin:assistant" and added["confidence"] == 5 and added["feedback"] is None
    assert c.query("tea coffee")[0]["id"] == added["id"]
    assert store.calibration()


def test_revoked_propositions_never_come_back_through_the_api(server, store, seeded):
    c = Client(
        server.url, token(store, "assistant", "propositions:read", "observations:read", "feedback:write")
    )
    revoked = c.revoke(seeded["thesis"], with_evidence=True)
    assert revoked["status"] == "revoked"
    assert not [p for p in c.query("protein folding thesis") if "thesis" in p["text"]]
    assert seeded["thesis"] not in [p["id"] for p in c.recent(limit=100)]
    for pid in (seeded["thesis"], seeded["thesis_v1"]):
        with pytest.raises(ApiError) as err:
            c.get(pid)
        assert err.value.status == 404
    assert not c.observations(q="protein folding")  # its evidence went with it


def test_feedback_on_a_missing_proposition_is_a_404(server, store, seeded):
    c = Client(server.url, token(store, "assistant", "feedback:write", "propositions:read"))
    for call in (
        lambda: c.confirm(999),
        lambda: c.reject(999),
        lambda: c.edit(999, text="x"),
        lambda: c.revoke(999),
        lambda: c.get(999),
    ):
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.status == 404 and "999" in err.value.message


def test_observations_need_their_scope_and_filter_by_text(server, store, seeded):
    c = Client(server.url, token(store, "screen-reader", "observations:read"))
    everything = c.observations()
    assert [o["id"] for o in everything] == sorted(seeded["obs"], reverse=True)
    stripe = c.observations(q="stripe application")
    assert [o["id"] for o in stripe] == [seeded["obs"][1]]
    assert set(stripe[0]) == set(models.Observation.model_fields)


def test_calibration_counts_confirmations_and_rejections_per_level(server, store, seeded):
    store.confirm(seeded["job"])
    store.reject(seeded["music"])
    levels = Client(server.url, token(store, "chat", "propositions:read")).calibration()
    assert {lv["confidence"]: (lv["confirmed"], lv["rejected"]) for lv in levels} == {7: (1, 0), 5: (0, 1)}


def test_pause_and_resume_change_the_agents_state(server, store, agent):
    c = Client(server.url, token(store, "tray-like", "admin"))
    assert c.pause(120)["state"] == "paused"
    assert agent.is_paused()
    assert c.resume()["state"] == "idle"
    assert c.pause(None)["paused"] is True and agent.is_paused()
    c.resume()
    with pytest.raises(ApiError) as err:
        c.pause(-5)
    assert err.value.status == 400 and "seconds" in err.value.message


def test_tokens_can_be_created_listed_and_revoked_over_the_api(server, store):
    admin = Client(server.url, token(store, "admin-plugin", "admin"))
    created = admin.create_token("notes-app", ["propositions:read", "feedback:write"])
    assert created["token"].startswith("gum_") and created["scopes"] == [
        "propositions:read",
        "feedback:write",
    ]
    assert Client(server.url, created["token"]).health()["ok"]
    listed = {t["name"]: t for t in admin.tokens()}
    assert "token" not in listed["notes-app"] and listed["notes-app"]["last_used_at"]
    with pytest.raises(ApiError) as err:
        admin.create_token("notes-app", ["propositions:read"])
    assert err.value.status == 409
    assert admin.revoke_token("notes-app") == {"revoked": "notes-app"}
    with pytest.raises(ApiError) as err:
        Client(server.url, created["token"]).health()
    assert err.value.status == 401
    with pytest.raises(ApiError) as err:
        admin.revoke_token("notes-app")
    assert err.value.status == 404


def test_settings_are_read_with_secrets_masked_and_written_to_config_toml(server, store, monkeypatch):
    import tomllib

    from gum.config import config_path

    monkeypatch.setenv("GUM_SERVER_API_KEY", "sk-secret-123")
    c = Client(server.url, token(store, "tray-like", "admin"))
    current = c.settings()
    assert current["server_api_key"] == "********"
    assert "sk-secret-123" not in json.dumps(current)
    new = c.update_settings(user_name="Priya", batch_size=4, server_api_key="********")
    assert new["user_name"] == "Priya" and new["batch_size"] == 4
    text = config_path().read_text()
    assert tomllib.loads(text) == {"user_name": "Priya", "batch_size": 4}
    assert "# user_name" in text  # the commented defaults are kept
    for bad, message in (
        ({"no_such_setting": 1}, "unknown setting"),
        ({"batch_size": 0}, "batch_size"),
        ({"key_store": "passphrase"}, "command line"),
    ):
        with pytest.raises(ApiError) as err:
            c.update_settings(**bad)
        assert err.value.status == 400 and message in err.value.message
    assert tomllib.loads(config_path().read_text()) == {"user_name": "Priya", "batch_size": 4}


# -- the access log ------------------------------------------------------------------------------------------


def test_every_plugin_access_is_logged_with_endpoint_and_item_count(server, store, seeded):
    c = Client(server.url, token(store, "editor-plugin", "propositions:read"))
    c.query("protein folding", limit=5)
    c.recent(limit=2)
    with pytest.raises(ApiError):
        c.observations()
    admin = Client(server.url, token(store, "admin-plugin", "admin"))
    entries = admin.access_log(plugin="editor-plugin")
    assert [(e["method"], e["path"], e["status"], e["items"]) for e in entries] == [
        ("GET", "/v1/observations", 403, 0),
        ("GET", "/v1/propositions", 200, 2),
        ("GET", "/v1/query", 200, 1),
    ]
    assert all(e["at"] for e in entries)


def test_the_access_log_is_visible_with_gum_token_log(server, store, seeded):
    from click.testing import CliRunner

    from gum.cli import main

    Client(server.url, token(store, "editor-plugin", "propositions:read")).recent(limit=2)
    out = CliRunner().invoke(main, ["token", "log"])
    assert out.exit_code == 0, out.output
    assert "editor-plugin" in out.output and "/v1/propositions" in out.output and "2 items" in out.output


def test_a_request_without_a_valid_token_writes_nothing(server, store, seeded):
    before = access_log_count(store)
    get(server, "/v1/propositions")
    get(server, "/v1/propositions", "gum_wrong")
    httpx.post(server.url + "/v1/propositions", json={"text": "injected"}, trust_env=False)
    assert access_log_count(store) == before
    assert not store.search("injected")


def test_every_request_of_the_tray_token_is_logged_reads_included(agent, store, seeded):
    tokens.register_tray_token(store, "tray-secret-0123456789abcdef")
    api = ApiServer(agent, port=0, rate_per_minute=0).start()
    try:
        tray = Client(api.url, "tray-secret-0123456789abcdef")
        tray.status()
        tray.recent()
        tray.confirm(seeded["job"])
        assert [(e["plugin"], e["path"]) for e in reversed(tray.access_log())][:3] == [
            ("tray", "/v1/status"), ("tray", "/v1/propositions"), ("tray", f"/v1/propositions/{seeded['job']}/confirm")
        ]
    finally:
        api.stop()


def test_a_new_tray_token_is_admin_and_replaces_the_previous_one(agent, store):
    tokens.register_tray_token(store, "first-tray-token-0123456789")
    tokens.register_tray_token(store, "second-tray-token-0123456789")
    api = ApiServer(agent, port=0).start()
    try:
        assert Client(api.url, "second-tray-token-0123456789").tokens()
        with pytest.raises(ApiError) as err:
            Client(api.url, "first-tray-token-0123456789").health()
        assert err.value.status == 401
        live = [t for t in tokens.list_tokens(store) if not t.revoked]
        assert [(t.name, t.scopes) for t in live] == [("tray", ["admin"])]
    finally:
        api.stop()


# -- limits and bad input ------------------------------------------------------------------------------------


def test_limits_on_sizes_and_values_give_clear_errors(server, store):
    secret = token(store, "assistant", "propositions:read", "feedback:write")
    auth = {"Authorization": f"Bearer {secret}"}

    def call(method, path, **kw):
        return httpx.request(
            method, server.url + path, headers={**auth, **kw.pop("headers", {})}, trust_env=False, **kw
        )

    cases = [
        (
            call(
                "POST",
                "/v1/propositions",
                content=b"x" * 70_000,
                headers={"Content-Type": "application/json"},
            ),
            413,
            "larger than",
        ),
        (call("GET", "/v1/query?q=a&limit=101"), 400, "between 1 and 100"),
        (call("GET", "/v1/query?q=a&limit=ten"), 400, "whole number"),
        (call("GET", "/v1/query"), 400, "missing query parameter 'q'"),
        (call("GET", "/v1/query?q=a&lmit=5"), 400, "unknown query parameter"),
        (call("GET", "/v1/query?q=a&q=b"), 400, "twice"),
        (call("GET", "/v1/query?q=" + "a" * 501), 400, "longer than 500"),
        (call("GET", "/v1/query?q=a&x=" + "b" * 5000), 400, "query string is longer"),
        (call("GET", "/v1/query?q=a&since=yesterday"), 400, "is not a time"),
        (
            call(
                "POST", "/v1/propositions", content=b"{not json", headers={"Content-Type": "application/json"}
            ),
            400,
            "not valid JSON",
        ),
        (
            call("POST", "/v1/propositions", content=b"text=hi", headers={"Content-Type": "text/plain"}),
            415,
            "application/json",
        ),
        (call("POST", "/v1/propositions", json={"text": "hi", "confidence": 11}), 400, "confidence"),
        (call("POST", "/v1/propositions", json={"text": "hi", "admin": True}), 400, "admin"),
        (call("POST", "/v1/propositions", json={"text": "   "}), 400, "text"),
        (call("DELETE", "/v1/propositions"), 405, "takes GET, POST"),
        (call("GET", "/v2/everything"), 404, "no endpoint"),
    ]
    for response, status, message in cases:
        assert response.status_code == status, (response.request.url, response.text)
        assert message in response.json()["error"], response.json()
        assert "Traceback" not in response.text
    assert store.counts()["propositions"] == {}


def test_a_token_over_its_rate_gets_429_with_retry_after(agent, store):
    secret = token(store, "greedy", "propositions:read")
    other = token(store, "polite", "propositions:read")
    # One request back every 10 s: a slow machine cannot refill the bucket during the test.
    api = ApiServer(agent, port=0, rate_per_minute=6, burst=5).start()
    try:
        codes = [get(api, "/v1/health", secret).status_code for _ in range(8)]
        assert codes[:5] == [200] * 5 and 429 in codes[5:]
        limited = get(api, "/v1/health", secret)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert "slow down" in limited.json()["error"]
        assert get(api, "/v1/health", other).status_code == 200  # per token, not global
    finally:
        api.stop()


def test_a_garbled_request_gets_a_json_error_and_the_server_keeps_serving(server, store):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01 garbage that is not http\r\n\r\n")
        reply = b""
        while chunk := s.recv(4096):  # until the server closes the connection
            reply += chunk
    assert reply.startswith(b"HTTP/1.") and b'{"error"' in reply
    assert get(server, "/v1/health", token(store, "chat", "propositions:read")).status_code == 200


def test_the_client_reports_an_agent_that_is_not_running_as_status_0():
    with pytest.raises(ApiError) as err:
        Client(f"http://127.0.0.1:{free_port()}", "gum_x", timeout=2).health()
    assert err.value.status == 0 and "is it running" in err.value.message


def test_gum_token_commands_create_list_and_revoke(store):
    from click.testing import CliRunner

    from gum.cli import main

    runner = CliRunner()
    created = runner.invoke(
        main, ["token", "create", "vscode", "--scope", "propositions:read", "--scope", "feedback:write"]
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("gum_")
    assert tokens.verify(store, secret).scopes == ["propositions:read", "feedback:write"]
    listed = runner.invoke(main, ["token", "list"])
    assert "vscode" in listed.output and "feedback:write" in listed.output and secret not in listed.output
    assert runner.invoke(main, ["token", "revoke", "vscode"]).exit_code == 0
    assert tokens.verify(store, secret) is None
    again = runner.invoke(main, ["token", "revoke", "vscode"])
    assert again.exit_code == 1 and "no live token" in again.output
    bad = runner.invoke(main, ["token", "create", "x", "--scope", "root"])
    assert bad.exit_code == 2 and "root" in bad.output


def test_an_unexpected_failure_is_a_json_500_without_a_traceback_and_is_logged(
    server, store, agent, monkeypatch
):
    def broken_status():
        raise RuntimeError("observer table exploded at /home/priya/secret")

    monkeypatch.setattr(agent, "status", broken_status)
    r = get(server, "/v1/status", token(store, "chat", "propositions:read"))
    assert r.status_code == 500
    assert r.json() == {"error": "internal error in the gum agent (see its log)"}
    assert "exploded" not in r.text
    assert tokens.access_log(store, limit=1)[0]["status"] == 500


# -- fuzzing from the served OpenAPI spec (schemathesis) -----------------------------------------------------

FUZZ_EXAMPLES = 15  # per operation and mode: ~21 operations x 2 modes x 15 = ~630 requests, ~15 s


@pytest.fixture
def served_spec(server, store) -> dict:
    """The OpenAPI document as the server serves it (read with a token revoked right after)."""
    secret = token(store, "spec-reader", "admin")
    spec = Client(server.url, secret).openapi()
    tokens.revoke_token(store, "spec-reader")
    return spec


def _fuzz(server, spec: dict, secret: str | None, *, modes, examples: int, operations=None, on_response):
    """Send schemathesis-generated requests for each operation of `spec`; each response to on_response."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.generation.modes import GenerationMode

    schema = schemathesis.openapi.from_dict(spec)
    headers = {"Authorization": f"Bearer {secret}"} if secret is not None else {}
    ran = 0
    for result in schema.get_all_operations():
        op = result.ok()
        if operations is not None and (op.method.upper(), op.path) not in operations:
            continue
        for mode in modes:

            @given(case=op.as_strategy(generation_mode=GenerationMode(mode)))
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate],
            )
            def run(case):
                nonlocal ran
                ran += 1
                response = case.call(base_url=server.url, headers=headers)
                on_response(case, response)

            run()
    return ran


def data_fingerprint(store) -> dict:
    """Row counts of every table and a digest of what feedback changes in place (status, feedback, text)."""
    tables = [
        r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    ]
    counts = {t: store.db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    props = store.db.execute(
        "SELECT id, status, feedback, text, confidence FROM propositions ORDER BY id"
    ).fetchall()
    live = store.db.execute("SELECT name, revoked FROM api_tokens ORDER BY id").fetchall()
    return {"counts": counts, "propositions": props, "tokens": live}


def test_fuzzing_every_endpoint_from_its_spec_finds_no_server_error_and_no_spec_violation(
    server, store, seeded, served_spec
):
    secret = token(store, "fuzzer-admin-7f3k2", "admin")
    failures = []

    def check(case, response):
        assert response.status_code < 500, (case.method, case.path, response.text)
        # A query parameter whose value is an empty list is not sent at all: what reached the server was
        # valid, so its 200 is no "schema-violating request accepted".
        if any(v == [] for v in (case.query or {}).values()):
            return
        try:
            case.validate_response(response)
        except BaseException as exc:  # noqa: BLE001 - collected, then reported all together
            failures.append(f"{case.method} {case.formatted_path}: {str(exc)[:800]}")

    ran = _fuzz(
        server, served_spec, secret, modes=("positive", "negative"), examples=FUZZ_EXAMPLES, on_response=check
    )
    assert ran > 300
    assert not failures, "\n\n".join(failures[:5])
    assert Client(server.url, token(store, "after-fuzz", "propositions:read")).health()["ok"]


@pytest.mark.parametrize("who", ["no token", "wrong token", "revoked token"])
def test_fuzzing_without_a_valid_token_is_refused_everywhere_and_writes_nothing(
    server, store, seeded, served_spec, who
):
    from gum.config import config_path

    secret = {"no token": None, "wrong token": "gum_" + "x" * 43}.get(who)
    if who == "revoked token":
        secret = token(store, "old-plugin", "admin")
        tokens.revoke_token(store, "old-plugin")
    before = data_fingerprint(store)
    statuses = set()

    def check(case, response):
        statuses.add(response.status_code)
        assert response.status_code == 401, (case.method, case.path, response.status_code, response.text)
        assert "Priya" not in response.text

    ran = _fuzz(server, served_spec, secret, modes=("positive", "negative"), examples=4, on_response=check)
    assert ran > 80 and statuses == {401}
    assert data_fingerprint(store) == before
    assert not config_path().exists() or "Mallory" not in config_path().read_text()


def test_fuzzing_with_a_token_lacking_the_scope_is_refused_and_changes_no_data(
    server, store, agent, seeded, served_spec
):
    from gum.config import config_path

    secret = token(store, "read-only-plugin", "propositions:read")
    needs_more = {(r.method, r.path) for r in ROUTES if r.scope not in (None, "propositions:read")}
    before = data_fingerprint(store)

    def check(case, response):
        # 403, or 400/404/405 from routing that runs before the scope check (e.g. an id that is not a number)
        assert response.status_code in (403, 404, 405), (
            case.method,
            case.path,
            response.status_code,
            response.text,
        )

    ran = _fuzz(
        server, served_spec, secret, modes=("positive",), examples=8, operations=needs_more, on_response=check
    )
    assert ran > 60
    after = data_fingerprint(store)
    assert after["propositions"] == before["propositions"]
    for table, n in before["counts"].items():
        if table not in ("api_access_log", "api_tokens"):
            assert after["counts"][table] == n, table
    assert (
        after["counts"]["api_access_log"] > before["counts"]["api_access_log"]
    )  # the refusals are on record
    assert not agent.is_paused()
    assert not config_path().exists()


def test_settings_with_awkward_text_survive_being_written_twice(server, store):
    from gum.config import config_path, load_settings

    c = Client(server.url, token(store, "tray-like", "admin"))
    awkward = 'Priya "P." O\'Neil \\ tab\tline\u2028sep \x7f é 😀'
    c.update_settings(user_name=awkward)
    c.update_settings(exclude_windows=["KeePass*", "*bank*"])
    assert load_settings().user_name == awkward
    assert load_settings().exclude_windows == ["KeePass*", "*bank*"]
    config_path().write_text("user_name = [broken\n")
    with pytest.raises(ApiError) as err:
        c.update_settings(user_name="x")
    assert err.value.status == 400 and "not valid TOML" in err.value.message
    assert config_path().read_text() == "user_name = [broken\n"


def test_a_confirm_or_reject_can_be_undone_and_calibration_forgets_it(server, store, seeded):
    c = Client(server.url, token(store, "tray-like", "propositions:read", "feedback:write"))
    c.reject(seeded["music"])
    c.confirm(seeded["job"])
    back = c.clear_feedback(seeded["music"])
    assert back["status"] == "active" and back["feedback"] is None
    assert seeded["music"] in [p["id"] for p in c.recent()]
    assert c.clear_feedback(seeded["job"])["feedback"] is None
    assert c.calibration() == []
    with pytest.raises(ApiError) as err:
        c.clear_feedback(seeded["job"])
    assert err.value.status == 404 and "no confirm or reject" in err.value.message


def test_the_list_of_recent_propositions_goes_up_to_1000(server, store, seeded):
    c = Client(server.url, token(store, "tray-like", "propositions:read"))
    assert len(c.recent(limit=1000)) == 3
    with pytest.raises(ApiError) as err:
        c.recent(limit=1001)
    assert err.value.status == 400
