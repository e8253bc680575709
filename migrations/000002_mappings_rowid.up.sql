-- mappings becomes a rowid table. Records arrive in source order (modification time), not key order;
-- a WITHOUT ROWID table keeps whole rows, payload included, in key order, so every upsert landed in a
-- random leaf page and rewrote it. A rowid table appends the row and updates only the small
-- (flow, source_key) index. BenchmarkCommitPage with scattered keys: 61 -> 31 us per record.
CREATE TABLE mappings_v2 (
    flow         TEXT NOT NULL,
    source_key   TEXT NOT NULL,
    target_key   TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (flow, source_key)
);
INSERT INTO mappings_v2 (flow, source_key, target_key, payload_hash, payload, created_at, updated_at)
    SELECT flow, source_key, target_key, payload_hash, payload, created_at, updated_at FROM mappings;
DROP TABLE mappings; -- and its index on (flow, target_key), which nothing reads
ALTER TABLE mappings_v2 RENAME TO mappings;

-- No index on run_records.source_key either: nothing reads the audit trail by source key (runs read it
-- by run id, in order). Each of the two unused indexes cost a random insert per record (together
-- 31 -> 20 us per record).
DROP INDEX run_records_source;
