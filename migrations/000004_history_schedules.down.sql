DROP TABLE schedules;
DROP INDEX run_records_history;
-- DROP COLUMN rather than rebuilding runs: dropping the table would cascade to the audit trail.
ALTER TABLE runs DROP COLUMN actor;
ALTER TABLE runs DROP COLUMN trigger;
