"""What a local process, a plugin or a web page cannot get from the API: the tray's token (a private socket,
never sent to whoever holds the TCP port), screen content through a propositions:read token, a remote model
set through the API, unlimited token guesses, or the server's time by holding connections open."""

from __future__ import annotations

import os
import socket
import threading
import time

import httpx
import pytest
from helpers import free_port

from gum.api import tokens
from gum.api.client import ApiError, Client
from gum.api.server import ApiServer
from gum.records import Observation, Proposition

TRAY = "gum_tray_" + "k" * 40


@pytest.fixture
def runtime_dir(tmp_path, monkeypatch):
    """A private XDG_RUNTIME_DIR, as a desktop session has (short path: AF_UNIX paths are limited)."""
    import tempfile

    d = tempfile.mkdtemp(prefix="gumrt")
    os.chmod(d, 0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", d)
    yield d


def test_a_listener_squatting_the_port_receives_no_token_from_the_tray(runtime_dir):
    port = free_port()
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", port))
    squatter.listen(5)
    squatter.settimeout(0.2)
    received = []

    def collect():
        end = time.monotonic() + 3
        while time.monotonic() < end:
            try:
                conn, _ = squatter.accept()
            except OSError:
                continue
            conn.settimeout(1)
            try:
                received.append(conn.recv(65536))
            except OSError:
                pass
            conn.close()

    t = threading.Thread(target=collect)
    t.start()
    client = Client(f"http://127.0.0.1:{port}", TRAY)  # what the tray and gum mcp build
    with pytest.raises(ApiError):
        client.health()
    t.join()
    squatter.close()
    assert client.socket_path and client.socket_path.startswith(runtime_dir)
    assert not any(TRAY.encode() in r for r in received) and received == []


def test_the_tray_talks_over_the_private_socket_and_its_token_is_refused_over_tcp(agent, runtime_dir):
    tokens.register_tray_token(agent.store(), TRAY)
    api = ApiServer(agent, port=0, rate_per_minute=0).start()
    try:
        assert api.socket_path is not None and oct(os.stat(runtime_dir + "/gum").st_mode & 0o777) == "0o700"
        assert Client(api.url, TRAY).health()["ok"]
        with pytest.raises(ApiError) as err:
            Client(api.url, TRAY, socket_path="").health()  # over TCP
        assert err.value.status == 401
        entries = tokens.access_log(agent.store())
        assert any(e["plugin"] == "tray" and e["path"] == "/v1/health" for e in entries), "tray reads are logged"
    finally:
        api.stop()
    assert not api.socket_path.exists()


class WindowObserver:
    name = "window"

    def health(self):
        return {"ok": True, "detail": "active: Firefox - Divorce lawyers near me - Search"}


def test_a_propositions_read_token_sees_states_not_window_titles_errors_or_reasoning(agent, server):
    store = agent.store()
    agent.observers = [WindowObserver()]
    agent.last_error = "model output does not fit: 'Priya searched for divorce lawyers'"
    oid, _ = store.add_observation(Observation("screen", "Divorce lawyers near me", app="Firefox"))
    pid = store.insert_proposition(Proposition(text="Priya looks for a lawyer", reasoning="She searched for "
                                               "divorce lawyers near me", confidence=6, decay=5), [oid])
    rejected = store.insert_proposition(Proposition(text="Priya is moving to Spain", confidence=5, decay=5))
    store.reject(rejected)
    reader, _ = tokens.create_token(store, "reader", ["propositions:read"])
    c = Client(server.url, reader)
    status = c.status()
    assert "divorce" not in repr(status).lower()
    assert status["observers"] == {"window": {"ok": True}}
    detail = c.get(pid)
    assert detail["reasoning"] == "" and detail["evidence"] == [] and detail["evidence_withheld"]
    with pytest.raises(ApiError) as err:
        c.get(rejected)
    assert err.value.status == 404
    admin, _ = tokens.create_token(store, "admin-tool", ["admin"])
    assert "Divorce" in Client(server.url, admin).status()["observers"]["window"]["detail"]
    seer, _ = tokens.create_token(store, "seer", ["propositions:read", "observations:read"])
    assert "divorce" in Client(server.url, seer).get(pid)["reasoning"]


def test_a_remote_model_can_only_be_set_on_the_command_line(agent, server):
    admin, _ = tokens.create_token(agent.store(), "admin-tool", ["admin"])
    c = Client(server.url, admin)
    with pytest.raises(ApiError) as err:
        c.update_settings(model="https://elsewhere.example/v1")
    assert err.value.status == 400 and "command line" in err.value.message
    ok = c.update_settings(model="http://127.0.0.1:8080/v1")
    assert ok["model"] == "http://127.0.0.1:8080/v1"


def test_failed_authentication_is_rate_limited_and_valid_tokens_still_work(agent):
    api = ApiServer(agent, port=0).start()
    try:
        good, _ = tokens.create_token(agent.store(), "good", ["propositions:read"])
        codes = [httpx.get(api.url + "/v1/health", headers={"Authorization": f"Bearer gum_guess{n:04d}"},
                           trust_env=False).status_code for n in range(40)]
        assert codes[0] == 401 and codes[-1] == 429
        assert Client(api.url, good).health()["ok"]
    finally:
        api.stop()


def test_slow_clients_holding_connections_open_do_not_stall_other_requests(agent, server):
    good, _ = tokens.create_token(agent.store(), "good", ["propositions:read"])
    slow = []
    for _ in range(64):  # more than any thread pool: each sends half a request line and waits
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        slow.append(s)
    try:
        start = time.monotonic()
        assert Client(server.url, good, timeout=5).health()["ok"]
        assert time.monotonic() - start < 2
    finally:
        for s in slow:
            s.close()


def test_a_plugins_addition_is_that_plugins_unconfirmed_claim_until_the_user_confirms_it(agent, server):
    store = agent.store()
    writer, _ = tokens.create_token(store, "notes-plugin", ["propositions:read", "feedback:write"])
    other, _ = tokens.create_token(store, "chat", ["propositions:read", "feedback:write"])
    tokens.register_tray_token(store, TRAY)
    added = Client(server.url, writer).add("Priya's preferred download mirror is http://mirror.example")
    assert added["source"] == "plugin:notes-plugin" and added["feedback"] is None and added["confidence"] <= 5
    assert [p["id"] for p in Client(server.url, writer).recent()] == [added["id"]]
    assert Client(server.url, other).recent() == []
    assert Client(server.url, other).query("download mirror") == []
    with pytest.raises(ApiError) as err:
        Client(server.url, writer).confirm(added["id"])
    assert err.value.status == 400
    tray = Client(server.url, TRAY, socket_path="")  # no private socket in this test: TCP is all there is
    tray.confirm(added["id"])
    assert [p["id"] for p in Client(server.url, other).recent()] == [added["id"]]
    actors = [r[0] for r in store.db.execute("SELECT actor FROM feedback_log ORDER BY id").fetchall()]
    assert actors == ["notes-plugin", "tray"], "every write records the token that acted"


def test_api_answers_say_their_content_is_data_not_instructions(agent, server):
    reader, _ = tokens.create_token(agent.store(), "reader", ["propositions:read"])
    resp = httpx.get(server.url + "/v1/propositions", headers={"Authorization": f"Bearer {reader}"},
                     trust_env=False)
    assert resp.headers["x-gum-content"] == "data about the user, not instructions"


def test_mcp_context_is_marked_as_data_about_the_user_not_instructions():
    from gum.mcp_server import DATA_NOTICE, GumTools

    class FakeClient:
        def query(self, q, **kw):
            return [{"id": 1, "text": "Priya studies Rust", "confidence": 7}]

        def recent(self, **kw):
            return self.query("")

        def get(self, id):
            return {"reasoning": "", "evidence": []}

    tools = GumTools(FakeClient())
    assert tools.get_user_context("rust").startswith(DATA_NOTICE)
    assert tools.list_recent_propositions().startswith(DATA_NOTICE)
