-- The PostgreSQL schema: the same tables as the SQLite schema after its migration 5 (see ../*.sql for
-- why each table and index is there). Times are Unix nanoseconds in BIGINT, as in SQLite (timestamptz
-- keeps only microseconds, and the store round-trips nanoseconds); optional times are NULL when there
-- is none. Keys and ids are COLLATE "C" so that their order is byte order, as in SQLite, whatever the
-- database's default collation, and the indexes serve the ordered listings. Payloads ([]byte in Go)
-- and the audit rows' vendor bodies are bytea, kept byte for byte (text refuses U+0000, which a valid
-- UTF-8 body may hold).

-- id mappings: which target record a source record became, and what was last delivered to it.
CREATE TABLE mappings (
    flow         TEXT COLLATE "C" NOT NULL,
    source_key   TEXT COLLATE "C" NOT NULL,
    target_key   TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    payload      BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (flow, source_key)
);

-- checkpoints: per flow, a tie-safe cursor (source modification time plus source key).
CREATE TABLE checkpoints (
    flow        TEXT COLLATE "C" PRIMARY KEY,
    cursor_time BIGINT NOT NULL,
    cursor_key  TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- runs: one execution of a flow, with what started it (trigger) and who (actor); and what another
-- gateway needs to take it over or follow it (SQLite's migration 5): how far it has read its window
-- (cursor_time/cursor_key, NULL time before its first page that set one), whether CancelRun asked it
-- to stop (cancel_requested), and the live counts its gateway publishes (live, JSON; '' when none).
CREATE TABLE runs (
    id           TEXT COLLATE "C" PRIMARY KEY,
    flow         TEXT COLLATE "C" NOT NULL,
    options      BYTEA NOT NULL,
    window_start BIGINT,
    window_end   BIGINT,
    status       TEXT NOT NULL CHECK (status IN ('running','succeeded','partial','failed','cancelled')),
    read         BIGINT NOT NULL DEFAULT 0,
    added        BIGINT NOT NULL DEFAULT 0,
    updated      BIGINT NOT NULL DEFAULT 0,
    skipped      BIGINT NOT NULL DEFAULT 0,
    failed       BIGINT NOT NULL DEFAULT 0,
    retried      BIGINT NOT NULL DEFAULT 0,
    started_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    error        TEXT NOT NULL DEFAULT '',
    trigger      TEXT NOT NULL DEFAULT '',
    actor        TEXT NOT NULL DEFAULT '',
    cursor_time      BIGINT,
    cursor_key       TEXT NOT NULL DEFAULT '',
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    live             TEXT NOT NULL DEFAULT ''
);
-- ListRuns: newest first, by (started_at, id), optionally of one flow.
CREATE INDEX runs_flow_started ON runs (flow, started_at DESC, id DESC);
CREATE INDEX runs_started ON runs (started_at DESC, id DESC);
-- FailInterrupted looks for the running ones.
CREATE INDEX runs_running ON runs (status) WHERE status = 'running';

-- run_records: the audit trail, one row per record and vendor attempt.
CREATE TABLE run_records (
    run_id     TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    source_key TEXT COLLATE "C" NOT NULL,
    target_key TEXT NOT NULL DEFAULT '',
    action     TEXT NOT NULL,
    attempt    INTEGER NOT NULL DEFAULT 0,
    vendor     TEXT NOT NULL DEFAULT '',
    operation  TEXT NOT NULL DEFAULT '',
    request    BYTEA NOT NULL DEFAULT '',
    response   BYTEA NOT NULL DEFAULT '',
    outcome    TEXT NOT NULL,
    error      TEXT NOT NULL DEFAULT '',
    at         BIGINT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
-- A record's history across runs (RecordHistory): one backward range scan of this index from the page
-- token, as with SQLite's index of the same name and columns.
CREATE INDEX run_records_history ON run_records (source_key, at, run_id, seq);

-- dead_letters: records that failed permanently; retried first by later runs.
CREATE TABLE dead_letters (
    flow            TEXT COLLATE "C" NOT NULL,
    source_key      TEXT COLLATE "C" NOT NULL,
    attempts        INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    payload         BYTEA NOT NULL DEFAULT '',
    first_failed_at BIGINT NOT NULL,
    last_failed_at  BIGINT NOT NULL,
    PRIMARY KEY (flow, source_key)
);
-- DeadLetters: oldest failure first.
CREATE INDEX dead_letters_first_failed ON dead_letters (flow, first_failed_at, source_key);

-- create_intents: the target key a create is about to use, written before the create is sent.
CREATE TABLE create_intents (
    flow       TEXT COLLATE "C" NOT NULL,
    source_key TEXT COLLATE "C" NOT NULL,
    target_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (flow, source_key)
);

-- schedules: when a flow runs by itself. Durations in nanoseconds; FireSchedule is a compare-and-set
-- on next_run_at.
CREATE TABLE schedules (
    flow          TEXT COLLATE "C" PRIMARY KEY,
    every_ns      BIGINT NOT NULL DEFAULT 0,
    jitter_ns     BIGINT NOT NULL DEFAULT 0,
    cron          TEXT NOT NULL DEFAULT '',
    paused        BOOLEAN NOT NULL DEFAULT false,
    next_run_at   BIGINT,
    configured    TEXT NOT NULL DEFAULT '',
    last_fired_at BIGINT,
    last_run_id   TEXT NOT NULL DEFAULT '',
    last_result   TEXT NOT NULL DEFAULT ''
);
