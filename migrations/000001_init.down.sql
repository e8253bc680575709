DROP TABLE dead_letters;
DROP TABLE run_records;
DROP TABLE runs;
DROP TABLE checkpoints;
DROP INDEX IF EXISTS mappings_target;
DROP TABLE mappings;
