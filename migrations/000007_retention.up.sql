-- retention_passes: what each retention pass removed (runs and their audit rows, deleted in small
-- batches by server/retention). Times are Unix nanoseconds; the oldest/newest run columns name the
-- first and last run the pass deleted by start time ('' and NULL when it deleted none); error is why
-- the pass stopped early ('' when it did not). The store keeps the newest 1000 passes.
CREATE TABLE retention_passes (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at        INTEGER NOT NULL,
    finished_at       INTEGER NOT NULL,
    policy            TEXT NOT NULL DEFAULT '',
    runs              INTEGER NOT NULL DEFAULT 0,
    records           INTEGER NOT NULL DEFAULT 0,
    oldest_run_id     TEXT NOT NULL DEFAULT '',
    oldest_started_at INTEGER,
    newest_run_id     TEXT NOT NULL DEFAULT '',
    newest_started_at INTEGER,
    error             TEXT NOT NULL DEFAULT ''
);
