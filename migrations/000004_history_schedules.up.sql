-- runs: what started a run (api, schedule, retry, discard) and who (an API key's name, "schedule").
-- Runs stored before this migration keep '' for both.
ALTER TABLE runs ADD COLUMN trigger TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN actor TEXT NOT NULL DEFAULT '';

-- A record's history across runs (RecordHistory): the audit rows of one source key, newest first,
-- paged by (at, run_id, seq). Migration 2 dropped an index on run_records (source_key) because
-- nothing read it and it cost a random insert per audit row; now the history reads this one. Its
-- columns are the whole sort key after the key, so the history is one range scan of the index
-- (walked backwards from the page token), with no sort, reading only the rows of that page (plus any
-- of another flow's runs with the same key, filtered out by the join on runs). The insert costs one
-- index entry per audit row at a scattered place: BenchmarkCommitPage went from 29-36 to 45-60 us per
-- record with it (an index on source_key alone cost about the same; see bench_test.go).
CREATE INDEX run_records_history ON run_records (source_key, at, run_id, seq);

-- schedules: when a flow runs by itself. Durations in nanoseconds, times as Unix nanoseconds (as
-- everywhere else); next_run_at and last_fired_at are NULL when there is none. FireSchedule is a
-- compare-and-set on next_run_at, so a tick fires once whichever ticker gets there first.
CREATE TABLE schedules (
    flow          TEXT PRIMARY KEY,
    every_ns      INTEGER NOT NULL DEFAULT 0,
    jitter_ns     INTEGER NOT NULL DEFAULT 0,
    cron          TEXT NOT NULL DEFAULT '',
    paused        INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    next_run_at   INTEGER,
    configured    TEXT NOT NULL DEFAULT '',
    last_fired_at INTEGER,
    last_run_id   TEXT NOT NULL DEFAULT '',
    last_result   TEXT NOT NULL DEFAULT ''
);
