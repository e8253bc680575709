-- Back to version 5's layout. SQL cannot decompress: the audit rows kept in run_blocks are dropped
-- with it (the runs stay), and a compressed mapping payload becomes '' (a version-5 gateway then shows
-- no field diff for that record in Preview; the hash, which decides what is sent, is kept as hex).
DROP TABLE record_index;
DROP TABLE run_blocks;
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
    SELECT flow, source_key, target_key,
        CASE WHEN length(payload_hash) = 32 THEN lower(hex(payload_hash)) ELSE CAST(payload_hash AS TEXT) END,
        CASE hex(substr(payload, 1, 1)) WHEN '7B' THEN CAST(payload AS TEXT) WHEN '00' THEN CAST(substr(payload, 2) AS TEXT) ELSE '' END,
        created_at, updated_at
    FROM mappings;
DROP TABLE mappings;
ALTER TABLE mappings_v2 RENAME TO mappings;
