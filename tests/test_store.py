"""Storage: a real SQLite file, created private, in WAL mode, migrated, keeping every version."""

from __future__ import annotations

import os
import stat
from datetime import timedelta

from gum.db import db_path, open_db
from gum.records import Observation, Proposition, utcnow
from gum.store import Store


def test_database_is_created_private_in_wal_mode_with_the_schema(gum_dirs):
    db = open_db()
    path = db_path()
    assert path.parent == gum_dirs
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    tables = set(db.table_names())
    assert {"observations", "queue", "propositions", "evidence", "propositions_fts", "observations_fts"} <= tables


def test_migrations_run_once_and_a_second_open_changes_nothing(gum_dirs):
    db = open_db()
    applied = db.execute("SELECT COUNT(*) FROM _sqlite_migrations").fetchone()[0]
    db.conn.close()
    db2 = open_db()
    assert db2.execute("SELECT COUNT(*) FROM _sqlite_migrations").fetchone()[0] == applied


def test_an_unchanged_observation_extends_the_previous_one_instead_of_adding_a_row(store):
    t0 = utcnow()
    first, merged = store.add_observation(Observation("screen", "Inbox - 3 unread", ts=t0, app="Mail"))
    again, merged_again = store.add_observation(
        Observation("screen", "Inbox - 3 unread", ts=t0 + timedelta(minutes=1), app="Mail")
    )
    assert (merged, merged_again) == (False, True)
    assert again == first
    obs = store.get_observation(first)
    assert obs.meta["repeats"] == 2
    assert obs.ts_end - obs.ts == timedelta(minutes=1)
    # Only one entry waits for the model.
    assert store.queue_counts()["pending"] == 1


def test_a_revision_keeps_the_old_version_and_its_evidence(store):
    o1, _ = store.add_observation(Observation("screen", "Zotero library: Thesis / Chapter 4"))
    o2, _ = store.add_observation(Observation("screen", "Overleaf: chapter4_gnn.tex"))
    first = store.insert_proposition(Proposition("Priya writes a thesis", confidence=5, decay=8), [o1])
    second = store.revise(first, Proposition("Priya writes a thesis chapter on GNNs", confidence=6, decay=8), [o2])
    history = store.history(second)
    assert [(p.version, p.status) for p in history] == [(1, "superseded"), (2, "active")]
    assert {o.id for o in store.evidence(second)} == {o1, o2}
    assert store.get(second).revises_id == first
    # Full-text search finds only the active version.
    assert [p.id for p, _ in store.search("thesis")] == [second]


def test_revoke_hides_every_version_and_with_evidence_deletes_the_observations(store):
    o1, _ = store.add_observation(Observation("screen", "dating app profile"))
    pid = store.insert_proposition(Proposition("Sam uses a dating app", confidence=5, decay=5), [o1])
    store.revoke(pid, with_evidence=True)
    assert store.search("dating app") == []
    assert store.propositions() == []
    assert store.observations(q="dating") == []
    assert store.counts()["observations"] == 0


def test_confirm_reject_and_edit_are_recorded_for_calibration(store):
    a = store.insert_proposition(Proposition("Lin plays the cello", confidence=7, decay=9))
    b = store.insert_proposition(Proposition("Lin lives in Oslo", confidence=3, decay=9))
    store.confirm(a)
    store.reject(b)
    edited = store.edit(a, text="Lin plays the cello in an orchestra")
    assert edited.edited and edited.version == 2
    levels = {row["confidence"]: row for row in store.calibration()}
    assert levels[7]["confirmed"] == 1 and levels[3]["rejected"] == 1
    assert store.get(b).status == "rejected"


def test_the_store_reopens_the_same_file_with_its_data(gum_dirs):
    s = Store()
    s.add_observation(Observation("text", "hello"))
    s.close()
    assert Store().counts()["observations"] == 1


def test_search_finds_an_active_match_behind_hundreds_of_hidden_ones(store):
    store.db.conn.execute("BEGIN")
    store.db.conn.executemany(
        "INSERT INTO propositions (text, confidence, decay, status, created_at, updated_at) "
        "VALUES (?, 5, 5, 'superseded', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
        [(f"violin violin violin practice {i}",) for i in range(300)],
    )
    store.db.conn.execute("COMMIT")
    active = store.insert_proposition(Proposition("Sam once mentioned a violin teacher in a long note about "
                                                  "moving flats and other errands", confidence=5, decay=5))
    assert [p.id for p, _ in store.search("violin", limit=5)] == [active]


def test_threads_opening_a_fresh_database_at_once_migrate_it_exactly_once(gum_dirs):
    import threading

    errors = []

    def open_it():
        try:
            open_db().conn.close()
        except Exception as exc:  # noqa: BLE001 - the test reports whatever went wrong
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db = open_db()
    from gum.migrations import migrations

    assert db.execute("SELECT COUNT(*) FROM _sqlite_migrations").fetchone()[0] == len(migrations._migrations)
