-- retention_passes: what each retention pass removed (SQLite's migration 7).
CREATE TABLE retention_passes (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at        BIGINT NOT NULL,
    finished_at       BIGINT NOT NULL,
    policy            TEXT NOT NULL DEFAULT '',
    runs              BIGINT NOT NULL DEFAULT 0,
    records           BIGINT NOT NULL DEFAULT 0,
    oldest_run_id     TEXT NOT NULL DEFAULT '',
    oldest_started_at BIGINT,
    newest_run_id     TEXT NOT NULL DEFAULT '',
    newest_started_at BIGINT,
    error             TEXT NOT NULL DEFAULT ''
);
