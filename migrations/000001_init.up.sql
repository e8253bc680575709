-- id mappings: which target record a source record became, and what was last delivered to it.
CREATE TABLE mappings (
    flow         TEXT NOT NULL,
    source_key   TEXT NOT NULL,
    target_key   TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (flow, source_key)
) WITHOUT ROWID;
CREATE INDEX mappings_target ON mappings (flow, target_key);

-- checkpoints: per flow, a tie-safe cursor (source modification time plus source key).
CREATE TABLE checkpoints (
    flow        TEXT PRIMARY KEY,
    cursor_time INTEGER NOT NULL,
    cursor_key  TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- runs: one execution of a flow.
CREATE TABLE runs (
    id           TEXT PRIMARY KEY,
    flow         TEXT NOT NULL,
    options      TEXT NOT NULL,
    window_start INTEGER,
    window_end   INTEGER,
    status       TEXT NOT NULL CHECK (status IN ('running','succeeded','partial','failed','cancelled')),
    read         INTEGER NOT NULL DEFAULT 0,
    added        INTEGER NOT NULL DEFAULT 0,
    updated      INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    retried      INTEGER NOT NULL DEFAULT 0,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    error        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_flow_started ON runs (flow, started_at DESC);
CREATE INDEX runs_started ON runs (started_at DESC);

-- run_records: the audit trail, one row per record and vendor attempt.
CREATE TABLE run_records (
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    source_key TEXT NOT NULL,
    target_key TEXT NOT NULL DEFAULT '',
    action     TEXT NOT NULL,
    attempt    INTEGER NOT NULL DEFAULT 0,
    vendor     TEXT NOT NULL DEFAULT '',
    operation  TEXT NOT NULL DEFAULT '',
    request    TEXT NOT NULL DEFAULT '',
    response   TEXT NOT NULL DEFAULT '',
    outcome    TEXT NOT NULL,
    error      TEXT NOT NULL DEFAULT '',
    at         INTEGER NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE INDEX run_records_source ON run_records (source_key);

-- dead_letters: records that failed permanently; retried first by later runs.
CREATE TABLE dead_letters (
    flow            TEXT NOT NULL,
    source_key      TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    payload         TEXT NOT NULL DEFAULT '',
    first_failed_at INTEGER NOT NULL,
    last_failed_at  INTEGER NOT NULL,
    PRIMARY KEY (flow, source_key)
) WITHOUT ROWID;
