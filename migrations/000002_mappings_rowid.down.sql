CREATE INDEX run_records_source ON run_records (source_key);

CREATE TABLE mappings_v1 (
    flow         TEXT NOT NULL,
    source_key   TEXT NOT NULL,
    target_key   TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (flow, source_key)
) WITHOUT ROWID;
INSERT INTO mappings_v1 (flow, source_key, target_key, payload_hash, payload, created_at, updated_at)
    SELECT flow, source_key, target_key, payload_hash, payload, created_at, updated_at FROM mappings;
DROP TABLE mappings;
ALTER TABLE mappings_v1 RENAME TO mappings;
CREATE INDEX mappings_target ON mappings (flow, target_key);
