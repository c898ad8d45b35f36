"""The store owns every table and every rule about them (issue 14): SQL runs only in the store layer, and
a rule such as "a revoked proposition never comes back" holds for every caller, not just the one that checks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from click.testing import CliRunner

from gum.cli import main
from gum.errors import NotFound
from gum.records import Observation, Proposition

ROOT = Path(__file__).resolve().parent.parent
# The store layer: the store itself, the one place that opens the file, the schema history, and the token
# store, which keeps the API's own tables (api_tokens, api_access_log) beside the API.
# gum/vectors.py owns the embeddings table (proposition_vectors) and its in-memory index. observers/browser.py
# reads the browsers' own history files (copies of Firefox's and Chromium's databases), never gum's.
STORE_LAYER = {"gum/store.py", "gum/db.py", "gum/migrations.py", "gum/api/tokens.py", "gum/vectors.py",
               "observers/browser.py"}
SQL_CALLS = {"execute", "executemany", "executescript"}
DRIVERS = {"sqlite3", "sqlcipher3", "sqlite_utils"}


def sql_outside_the_store_layer(root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted(p for top in ("gum", "observers", "ui") for p in (root / top).rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel in STORE_LAYER:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), rel)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS:
                found.append(f"{rel}:{node.lineno}: .{node.func.attr}()")
            elif isinstance(node, ast.Attribute) and node.attr == "db":  # store.db: the connection itself
                found.append(f"{rel}:{node.lineno}: .db")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                found += [f"{rel}:{node.lineno}: imports {n}" for n in names if n.split(".")[0] in DRIVERS]
    return found


def test_no_module_outside_the_store_layer_executes_sql_or_touches_the_connection():
    assert sql_outside_the_store_layer() == []


def test_the_check_itself_finds_sql_where_it_should_not_be(tmp_path):
    (tmp_path / "gum" / "api").mkdir(parents=True)
    (tmp_path / "gum" / "agent.py").write_text("def f(store):\n    store.db.execute('DELETE FROM queue')\n")
    (tmp_path / "gum" / "api" / "server.py").write_text("import sqlite3\n")
    (tmp_path / "gum" / "store.py").write_text("def f(db):\n    db.execute('SELECT 1')\n")
    assert sql_outside_the_store_layer(tmp_path) == [
        "gum/agent.py:2: .execute()", "gum/agent.py:2: .db", "gum/api/server.py:1: imports sqlite3"]


@pytest.fixture
def revoked_lineage(store):
    """A proposition revised once (v1 superseded by v2), then revoked: (v1 id, v2 id)."""
    obs_id, _ = store.add_observation(Observation("screen", "Overleaf chapter 4"))
    v1 = store.insert_proposition(Proposition(text="Priya writes her thesis"), [obs_id])
    v2 = store.revise(v1, Proposition(text="Priya writes her thesis in Overleaf"))
    store.revoke(v2)
    return v1, v2


@pytest.mark.parametrize("action", ["confirm", "reject", "edit", "clear_feedback", "visible"])
def test_no_version_of_a_revoked_lineage_comes_back_through_the_store(store, revoked_lineage, action):
    for pid in revoked_lineage:
        args = {"text": "x"} if action == "edit" else {}
        with pytest.raises(NotFound, match="was revoked"):
            getattr(store, action)(pid, **args)


@pytest.mark.parametrize("command", [["confirm"], ["reject"], ["edit", "--text", "x"], ["show"]])
def test_the_command_line_refuses_a_revoked_lineage_as_the_api_does(store, revoked_lineage, command):
    old_version = revoked_lineage[0]
    result = CliRunner().invoke(main, [command[0], str(old_version), *command[1:]])
    assert result.exit_code == 1
    assert f"proposition #{old_version} was revoked" in result.output


def test_undoing_feedback_restores_a_rejected_proposition_and_forgets_the_click(store):
    pid = store.insert_proposition(Proposition(text="Priya bakes sourdough on Sundays"))
    store.reject(pid)
    restored = store.clear_feedback(pid)
    assert (restored.status, restored.feedback) == ("active", None)
    assert store.calibration() == []
    with pytest.raises(NotFound, match="no confirm or reject to undo"):
        store.clear_feedback(pid)


def test_the_queue_reports_what_is_due(store):
    assert store.queue_due(3) == (0, None)
    store.add_observation(Observation("screen", "a"))
    store.add_observation(Observation("screen", "b"))
    pending, oldest = store.queue_due(3)
    assert pending == 2 and oldest is not None


def test_a_heartbeats_input_counts_add_up_on_the_observation_it_extended(store):
    from datetime import datetime, timedelta, timezone

    t = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    obs_id, _ = store.add_observation(Observation("window", "Overleaf", ts=t, ts_end=t + timedelta(minutes=3)))
    store.merge_engagement(obs_id, {"keys": 40, "clicks": 2})
    store.merge_engagement(obs_id, {"keys": 10})
    assert store.get_observation(obs_id).meta["engagement"] == {"keys": 50, "clicks": 2, "scrolls": 0,
                                                                 "dwell_s": 180.0}
