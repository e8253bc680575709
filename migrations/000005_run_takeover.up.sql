-- runs: what a gateway other than the one that started a run needs to take it over (several
-- replicas on one database) or to follow it.
--   cursor_time/cursor_key: how far the run has read its window (the last cursor of its last
--     committed page, written in that page's transaction); a run taken over resumes after it.
--   cancel_requested: CancelRun asked the run to stop at its next page boundary, wherever it runs.
--   live: the live counts the executing gateway publishes while the run is running (JSON), ahead of
--     the committed counts by the page being delivered; '' when none were published.
ALTER TABLE runs ADD COLUMN cursor_time INTEGER;
ALTER TABLE runs ADD COLUMN cursor_key TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1));
ALTER TABLE runs ADD COLUMN live TEXT NOT NULL DEFAULT '';
