"""The whole schema history of gum's database. Append new migrations at the end; never edit an applied one."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("gum")


@migrations()
def m001_initial(db: Database) -> None:
    # Observations are never rewritten by the engine: propositions point at them as evidence.
    # ts_end and repeats come from heartbeat merging: an unchanged screen extends the last observation
    # instead of adding a new one, so dwell time is measured rather than guessed.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS observations (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            ts_end TEXT NOT NULL,
            observer TEXT NOT NULL,
            app TEXT NOT NULL DEFAULT '',
            window TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL DEFAULT '',
            content_hash TEXT NOT NULL,
            image_path TEXT,
            repeats INTEGER NOT NULL DEFAULT 1,
            meta TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS observations_ts ON observations(ts)")
    db.execute("CREATE INDEX IF NOT EXISTS observations_hash ON observations(content_hash)")
    # The durable work queue: a row per observation the model has not yet been through. A batch's results
    # and the deletion of its queue rows commit in one transaction, so a crash mid-batch loses nothing and
    # processes nothing twice. 'failed' rows are kept, with the reason, for a later retry.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS queue (
            observation_id INTEGER PRIMARY KEY REFERENCES observations(id) ON DELETE CASCADE,
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            enqueued_at TEXT NOT NULL
        )"""
    )
    # Propositions keep every version: a revision inserts a new row that points at the one it revised
    # (revises_id) and marks that one 'superseded'. root_id names the whole lineage.
    # confidence is what gum believes (computed from evidence); model_confidence is what the model said.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS propositions (
            id INTEGER PRIMARY KEY,
            text TEXT NOT NULL,
            reasoning TEXT NOT NULL DEFAULT '',
            confidence INTEGER NOT NULL CHECK (confidence BETWEEN 1 AND 10),
            model_confidence INTEGER,
            decay INTEGER NOT NULL CHECK (decay BETWEEN 1 AND 10),
            status TEXT NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'superseded', 'revoked', 'rejected')),
            version INTEGER NOT NULL DEFAULT 1,
            revises_id INTEGER REFERENCES propositions(id),
            root_id INTEGER,
            feedback TEXT CHECK (feedback IN ('confirmed', 'rejected')),
            edited INTEGER NOT NULL DEFAULT 0,
            source TEXT NOT NULL DEFAULT 'model',
            confidence_detail TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS propositions_status ON propositions(status, updated_at)")
    db.execute("CREATE INDEX IF NOT EXISTS propositions_root ON propositions(root_id)")
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS evidence (
            proposition_id INTEGER NOT NULL REFERENCES propositions(id) ON DELETE CASCADE,
            observation_id INTEGER NOT NULL REFERENCES observations(id) ON DELETE CASCADE,
            added_at TEXT NOT NULL,
            PRIMARY KEY (proposition_id, observation_id)
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS evidence_observation ON evidence(observation_id)")
    # What the user said about a proposition, with the confidence it had then: the calibration view
    # is built from these rows.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS feedback_log (
            id INTEGER PRIMARY KEY,
            proposition_id INTEGER NOT NULL,
            action TEXT NOT NULL,
            confidence INTEGER,
            detail TEXT NOT NULL DEFAULT '{}',
            at TEXT NOT NULL
        )"""
    )
    # Why a batch could not be processed, kept for `gum status`.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS events (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            message TEXT NOT NULL
        )"""
    )
    db["propositions"].enable_fts(["text", "reasoning"], create_triggers=True, tokenize="porter", replace=True)
    db["observations"].enable_fts(["app", "window", "text"], create_triggers=True, tokenize="porter", replace=True)


@migrations()
def m_api_001_tokens(db: Database) -> None:
    # Plugins reach the local API with bearer tokens. Only the sha256 of a token is kept: a copy of the
    # database does not hand out access. Revoked tokens stay (revoked = 1) so the access log keeps a name
    # for every line; a name is unique among live tokens only, so a revoked name can be given out again.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS api_tokens (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            scopes TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked INTEGER NOT NULL DEFAULT 0,
            revoked_at TEXT
        )"""
    )
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_live_name ON api_tokens(name) WHERE revoked = 0")
    # Every plugin access, so the user can see who read what: plugin, endpoint, when, how many items.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS api_access_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            plugin TEXT NOT NULL,
            method TEXT NOT NULL,
            path TEXT NOT NULL,
            status INTEGER NOT NULL,
            items INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS api_access_log_at ON api_access_log(at)")


@migrations()
def m_engine_002_evidence_cap(db: Database) -> None:
    # The verification step can find that an observation only shows something displayed to the user (or done
    # by someone else), not done by them: the link then carries a cap on how much that observation counts
    # for that proposition. NULL: no cap beyond the observation's own engagement weight.
    if "cap" not in db["evidence"].columns_dict:
        db.execute("ALTER TABLE evidence ADD COLUMN cap REAL")


@migrations()
def m_intake_001_segments(db: Database) -> None:
    # The model reads activity segments (gum/segments.py), spent on the most engaged first: the queue keeps a
    # priority per entry, so a per-hour budget goes to what the user worked on rather than what passed by.
    if "priority" not in db["queue"].columns_dict:
        db.execute("ALTER TABLE queue ADD COLUMN priority REAL NOT NULL DEFAULT 0.5")
    # Lines that recur across documents of one app (tab strips, menus, nav bars, footers) are not content.
    # For each (app, line) a few hashes of the documents it was seen in: three distinct documents make it
    # chrome. Only hashes are kept, never the line.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS line_stats (
            app TEXT NOT NULL,
            line_hash TEXT NOT NULL,
            docs TEXT NOT NULL DEFAULT '',
            last_seen TEXT NOT NULL,
            PRIMARY KEY (app, line_hash)
        ) WITHOUT ROWID"""
    )
    # Lines the model has already read, and in which observation: a revisited page or an unchanged document
    # attaches to what that observation yielded instead of costing another call.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS read_lines (
            line_hash TEXT PRIMARY KEY,
            observation_id INTEGER NOT NULL,
            at TEXT NOT NULL
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS read_lines_at ON read_lines(at)")
    # A segment that only repeated what an earlier one showed: it is evidence for whatever that one yields.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS repeats (
            observation_id INTEGER NOT NULL REFERENCES observations(id) ON DELETE CASCADE,
            source_id INTEGER NOT NULL REFERENCES observations(id) ON DELETE CASCADE,
            PRIMARY KEY (observation_id, source_id)
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS repeats_source ON repeats(source_id)")


@migrations()
def m_intake_002_pace(db: Database) -> None:
    # Small facts the agent keeps between runs for `gum status` (the model's recent pace, for the time the
    # waiting work will take), so the command can answer without asking a running agent.
    db.execute("CREATE TABLE IF NOT EXISTS agent_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID")


@migrations()
def m_ingest_001_observation_sources(db: Database) -> None:
    # Recorded input (a screenshot file, a JSONL line) has an identity: the image's content hash, the line's
    # own id, or a hash of what the line says. One row per identity, pointing at the observation that holds
    # it, so ingesting the same activity twice (a re-run after a crash, a folder with two new files, two
    # ingests at once) stores it once. The primary key is the guarantee, not a check before the insert.
    # Many identities may point at one observation: a repeat merged into it as a heartbeat is stored too.
    # Live capture has no row here: the intake path merges what it sees again. When an observation is deleted
    # (a proposition revoked with its evidence) its row stays, pointing nowhere, so ingesting the same folder
    # again does not bring back what the user had deleted.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS observation_sources (
            identity TEXT PRIMARY KEY,
            observation_id INTEGER REFERENCES observations(id) ON DELETE SET NULL,
            added_at TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX IF NOT EXISTS observation_sources_observation ON observation_sources(observation_id)")
    # An ingest continues the open activity segments as the database has them (another ingest, or one killed
    # half-way, may have moved them on), so it looks them up for every capture: a small index of just those.
    db.execute("CREATE INDEX IF NOT EXISTS observations_open_segments ON observations(ts) "
               "WHERE json_extract(meta, '$.segment.state') = 'open'")


@migrations()
def m_retrieval_001_vectors(db: Database) -> None:
    # Dense retrieval (gum/vectors.py): one sentence embedding per proposition, int8 with one scale per row
    # (388 bytes, not 1.5 KB of float32); queries search a copy held in memory, so no vector index is kept in
    # SQLite. `model` names the embedding model, so vectors of another model can be told apart and redone.
    # Propositions written before this migration get their vector later (vectors.backfill).
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS proposition_vectors (
            proposition_id INTEGER PRIMARY KEY REFERENCES propositions(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            scale REAL NOT NULL,
            vector BLOB NOT NULL
        )"""
    )


@migrations()
def m_security_001_actor(db: Database) -> None:
    # Which API token (plugin) made each confirm, reject, edit, revoke or addition: "user" for the CLI and
    # the tray. A plugin's write is then never mistaken for the user's word.
    if "actor" not in db["feedback_log"].columns_dict:
        db.execute("ALTER TABLE feedback_log ADD COLUMN actor TEXT NOT NULL DEFAULT 'user'")
