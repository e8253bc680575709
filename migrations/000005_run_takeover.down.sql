ALTER TABLE runs DROP COLUMN live;
ALTER TABLE runs DROP COLUMN cancel_requested;
ALTER TABLE runs DROP COLUMN cursor_key;
ALTER TABLE runs DROP COLUMN cursor_time;
