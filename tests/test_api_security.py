"""What a local process, a plugin or a web page cannot get from the API: the tray's token (a private socket,
never sent to whoever holds the TCP port), screen content through a propositions:read token, a remote model
set through the API, unlimited token guesses, or the server's time by holding connections open."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest
from helpers import free_port

from gum import paths
from gum.api import tokens
from gum.api.client import ApiError, Client
from gum.api.server import FAILED_AUTH_BURST, FAILED_AUTH_PER_MINUTE, ApiServer
from gum.records import Observation, Proposition

TRAY = "gum_tray_" + "k" * 40


@pytest.fixture
def short_tmp():
    """A fresh folder with a short path (AF_UNIX socket paths are limited to ~108 bytes)."""
    d = tempfile.mkdtemp(prefix="gumc")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def no_runtime_folder(monkeypatch, tmp_path, short_tmp):
    """A session without a private runtime folder (headless Linux, root in a container, macOS); gum's short
    fallback folder goes into `short_tmp` instead of /tmp."""
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setattr(paths, "LOGIN_RUNTIME_DIR", str(tmp_path / "no-such-runtime-{uid}"))
    monkeypatch.setattr(paths, "SHORT_RUN_DIR", short_tmp + "/gum-{uid}")


@pytest.fixture(params=["a private runtime folder", "no runtime folder",
                        "a cache folder too deep for a socket"])
def private_folder(request, tmp_path, monkeypatch, short_tmp):
    """Where the agent's private socket goes, for each kind of session: a desktop's XDG_RUNTIME_DIR (the
    test's own, from conftest); none, where gum uses a folder in its cache; none and a cache path too long
    for a socket, where gum uses a short folder of the user's."""
    if request.param == "a private runtime folder":
        return os.environ["XDG_RUNTIME_DIR"] + "/gum"
    no_runtime_folder(monkeypatch, tmp_path, short_tmp)
    if request.param == "no runtime folder":
        monkeypatch.setenv("GUM_CACHE_DIR", short_tmp + "/cache")
        return short_tmp + "/cache/run"
    monkeypatch.setenv("GUM_CACHE_DIR", str(tmp_path / ("deep" * 20) / "cache"))
    return f"{short_tmp}/gum-{os.getuid()}"


def test_a_listener_squatting_the_port_receives_no_token_from_the_tray(private_folder):
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
    assert client.socket_path == f"{private_folder}/api-{port}.sock"
    assert not any(TRAY.encode() in r for r in received) and received == []


def test_the_tray_talks_over_the_private_socket_and_its_token_is_refused_over_tcp(agent, private_folder):
    tokens.register_tray_token(agent.store(), TRAY)
    api = ApiServer(agent, port=0, rate_per_minute=0).start()
    try:
        assert str(api.socket_path) == f"{private_folder}/api-{api.port}.sock"
        assert stat.S_IMODE(os.lstat(private_folder).st_mode) == 0o700
        assert Client(api.url, TRAY).health()["ok"]
        with pytest.raises(ApiError) as err:
            Client(api.url, TRAY, socket_path="").health()  # over TCP
        assert err.value.status == 401
        entries = tokens.access_log(agent.store())
        assert any(e["plugin"] == "tray" and e["path"] == "/v1/health" for e in entries), "tray reads are logged"
    finally:
        api.stop()
    assert not api.socket_path.exists()


def _not_ours(folder, how, monkeypatch):
    """Leave at `folder` what another local user could have put there first."""
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    if how == "a folder of someone else's":
        if os.getuid() != 0:
            pytest.skip("making a folder of another user's needs root")
        import pwd

        os.mkdir(folder, 0o777)
        nobody = pwd.getpwnam("nobody")
        os.chown(folder, nobody.pw_uid, nobody.pw_gid)
    elif how == "a link to a folder of ours":  # the link itself can be swapped for one to anywhere
        os.symlink(tempfile.mkdtemp(prefix="gumlink", dir=os.path.dirname(folder)), folder)
    else:  # open to everyone, and we may not change that
        os.mkdir(folder, 0o777)
        os.chmod(folder, 0o777)
        chmod = os.chmod

        def refuse(path, mode, *a, **kw):
            if os.fspath(path) == folder:
                raise PermissionError(1, "Operation not permitted", folder)
            return chmod(path, mode, *a, **kw)

        monkeypatch.setattr(os, "chmod", refuse)


@pytest.mark.parametrize("how", ["a folder of someone else's", "a link to a folder of ours",
                                 "a folder open to everyone that we may not close"])
def test_a_fallback_folder_someone_else_made_first_is_never_used(tmp_path, monkeypatch, short_tmp, how):
    no_runtime_folder(monkeypatch, tmp_path, short_tmp)
    monkeypatch.setenv("GUM_CACHE_DIR", short_tmp + "/cache")
    short_folder = f"{short_tmp}/gum-{os.getuid()}"
    _not_ours(short_tmp + "/cache/run", how, monkeypatch)
    assert paths.api_socket(8765) == Path(short_folder) / "api-8765.sock"
    os.rmdir(short_folder)  # and had another user made the short folder first, too:
    _not_ours(short_folder, how, monkeypatch)
    assert paths.api_socket(8765) is None  # nowhere safe: loopback TCP, as on Windows


def test_a_fallback_folder_of_ours_that_others_may_enter_is_closed_to_them(tmp_path, monkeypatch, short_tmp):
    no_runtime_folder(monkeypatch, tmp_path, short_tmp)
    monkeypatch.setenv("GUM_CACHE_DIR", short_tmp)
    os.mkdir(short_tmp + "/run")
    os.chmod(short_tmp + "/run", 0o755)
    assert paths.api_socket(8765) == Path(short_tmp) / "run" / "api-8765.sock"
    assert stat.S_IMODE(os.lstat(short_tmp + "/run").st_mode) == 0o700


def test_a_client_started_without_xdg_runtime_dir_finds_the_socket_in_the_login_runtime_folder(monkeypatch):
    # An MCP client starts `gum mcp` with HOME, PATH, USER and little more: no XDG_RUNTIME_DIR.
    runtime = os.environ["XDG_RUNTIME_DIR"] + f"/user-{os.getuid()}"
    os.mkdir(runtime, 0o700)
    monkeypatch.setattr(paths, "LOGIN_RUNTIME_DIR", os.environ["XDG_RUNTIME_DIR"] + "/user-{uid}")
    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
    agents = paths.api_socket(8765)
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert paths.api_socket(8765) == agents == Path(runtime) / "gum" / "api-8765.sock"


def test_gum_api_socket_off_serves_and_talks_loopback_tcp_only(agent, monkeypatch):
    monkeypatch.setenv("GUM_API_SOCKET", "off")
    tokens.register_tray_token(agent.store(), TRAY)
    api = ApiServer(agent, port=0, rate_per_minute=0).start()
    try:
        client = Client(api.url, TRAY)
        assert api.socket_path is None and client.socket_path is None
        assert client.health()["ok"]
    finally:
        api.stop()


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
        started = time.monotonic()
        codes = [httpx.get(api.url + "/v1/health", headers={"Authorization": f"Bearer gum_guess{n:04d}"},
                           trust_env=False).status_code for n in range(40)]
        elapsed = time.monotonic() - started
        assert codes[0] == 401 and 429 in codes and set(codes) == {401, 429}
        # No more guesses get an answer than the burst and what the rate earned meanwhile: on a loaded machine
        # a slow run earns one back every two seconds, so the last guess itself may be answered (401).
        assert codes.count(401) <= FAILED_AUTH_BURST + elapsed * FAILED_AUTH_PER_MINUTE / 60 + 1, (elapsed, codes)
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
    tray = Client(server.url, TRAY)  # over the private socket, as the tray talks
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
