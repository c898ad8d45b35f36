"""`gum mcp` started as a subprocess by the mcp package's own stdio client, against a real API server
(the `server` and `seeded` fixtures of conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from gum.api import tokens

pytest.importorskip("mcp")


def run_mcp_session(server, secret: str, calls: list[tuple[str, dict]]):
    """Start `gum mcp` with the mcp stdio client, list its tools, make `calls`; return what came back."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    from gum.handoff import write_file

    token_file = write_file(Path(os.environ["GUM_DATA_DIR"]).parent / f"mcp-{secret[-6:]}.token", secret)
    env = {**os.environ, "GUM_API_PORT": str(server.port)}
    params = StdioServerParameters(command=sys.executable, args=["-m", "gum.cli", "mcp", "--token-file",
                                                                 str(token_file)], env=env)

    async def main():
        with anyio.fail_after(60):
            async with Client(params) as client:
                listed = await client.list_tools()
                results = [await client.call_tool(name, args) for name, args in calls]
                return [t.name for t in listed.tools], listed.tools, results

    return anyio.run(main)


def text_of(result) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


def is_error(result) -> bool:
    return bool(getattr(result, "is_error", None) or getattr(result, "isError", None))


def test_an_mcp_client_lists_gums_tools_and_gets_the_users_context(server, store, seeded):
    secret, _ = tokens.create_token(
        store, "mcp", ["propositions:read", "observations:read", "feedback:write"]
    )
    names, tools, results = run_mcp_session(
        server,
        secret,
        [
            ("get_user_context", {"query": "protein folding thesis"}),
            (
                "get_user_context",
                {"query": "protein folding", "start_hh_mm_ago": "01:00", "end_hh_mm_ago": "00:00"},
            ),
            (
                "get_user_context",
                {"query": "protein folding", "start_hh_mm_ago": "48:00", "end_hh_mm_ago": "24:00"},
            ),
            ("get_user_context", {}),
            ("list_recent_propositions", {"limit": 5}),
            ("give_feedback", {"proposition_id": seeded["job"], "action": "confirm"}),
            (
                "give_feedback",
                {
                    "proposition_id": seeded["thesis"],
                    "action": "edit",
                    "text": "Priya is writing chapter 3 of her PhD thesis",
                },
            ),
            ("get_user_context", {"query": "thesis", "start_hh_mm_ago": "1 hour"}),
        ],
    )
    assert set(names) == {"get_user_context", "list_recent_propositions", "give_feedback"}
    context_tool = next(t for t in tools if t.name == "get_user_context")
    props = (getattr(context_tool, "input_schema", None) or context_tool.inputSchema)["properties"]
    assert set(props) == {"query", "start_hh_mm_ago", "end_hh_mm_ago"}

    found, windowed, too_old, general, recent, confirmed, edited, bad_window = results
    assert not is_error(found)
    assert "Priya is writing chapter 3 of her PhD thesis on protein folding" in text_of(found)
    assert "Reasoning: Chapter 3 on screen." in text_of(found)
    assert "protein folding simulations" in text_of(found)  # evidence: this token may read observations
    assert "PhD thesis" in text_of(windowed)
    assert "No relevant context" in text_of(too_old)
    assert "Stripe" in text_of(general) and "thesis" in text_of(general)
    assert f"#{seeded['job']}" in text_of(recent) and f"#{seeded['thesis']}" in text_of(recent)
    assert "Confirmed" in text_of(confirmed)
    assert store.get(seeded["job"]).feedback == "confirmed"
    assert "chapter 3" in text_of(edited) and store.current(seeded["thesis"]).edited
    assert is_error(bad_window) and "HH:MM" in text_of(bad_window)


def test_the_mcp_server_is_bound_by_its_tokens_scopes_and_logged(server, store, seeded):
    secret, _ = tokens.create_token(store, "claude-desktop", ["propositions:read"])
    _, _, (context, feedback) = run_mcp_session(
        server,
        secret,
        [
            ("get_user_context", {"query": "protein folding"}),
            ("give_feedback", {"proposition_id": seeded["job"], "action": "reject"}),
        ],
    )
    assert "PhD thesis" in text_of(context)
    assert "protein folding simulations" not in text_of(context)  # no observations:read, no evidence
    assert is_error(feedback) and "feedback:write" in text_of(feedback)
    assert store.get(seeded["job"]).status == "active"
    log = tokens.access_log(store, plugin="claude-desktop")
    assert ("POST", f"/v1/propositions/{seeded['job']}/reject", 403) in [
        (e["method"], e["path"], e["status"]) for e in log
    ]
    assert any(e["path"] == "/v1/query" and e["items"] == 1 for e in log)


def test_gum_mcp_without_a_token_exits_with_a_message_saying_how_to_make_one():
    env = {k: v for k, v in os.environ.items() if k != "GUM_API_TOKEN_FILE"}
    done = subprocess.run(
        [sys.executable, "-m", "gum.cli", "mcp"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "gum token create mcp" in done.stderr
    assert done.stdout == ""  # stdout belongs to the protocol
