-- The audit trail and the id mappings stored compactly (issue #16: bytes of database per delivered
-- record, and growth by full resyncs). The encodings are server/storage/compact's, shared with the
-- PostgreSQL backend.
--
-- run_blocks: a run's audit trail, one immutable row per page commit holding all of the page's audit
-- rows (every field, bodies included) as one zstd frame (data), with their first and last sequence
-- numbers and the distinct (action, outcome) pairs they hold (summary, which lets RunRecords skip a
-- block its filter cannot match without decompressing it). One frame per page compresses the bodies
-- against each other (a page's records share their field names, vendor, operation and most values).
CREATE TABLE run_blocks (
    run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    summary   TEXT NOT NULL,
    data      BLOB NOT NULL,
    PRIMARY KEY (run_id, first_seq)
);

-- record_index: a record's history across runs (RecordHistory), one entry per audit row that did
-- something; an unchanged skip (action skip, outcome skipped: nothing was sent), which every full
-- resync writes for every unchanged record, is kept in its run's block but has no entry. The
-- history walks this table backwards from the page token and reads the rows from their blocks.
-- No foreign key: a cascade from runs would need a second index on run_id; a run's entries are
-- found from its blocks' keys.
CREATE TABLE record_index (
    source_key TEXT NOT NULL,
    at         INTEGER NOT NULL,
    run_id     TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (source_key, at, run_id, seq)
) WITHOUT ROWID;

-- The audit rows of run_records (databases made before this migration) are moved into blocks and the
-- index by the store when it opens (in Go: SQL cannot compress), a page of rows per transaction;
-- run_records then stays empty, and nothing writes to it.

-- mappings: the payload hash as its 32 bytes instead of 64 hex digits, the payload (canonical JSON)
-- zstd-compressed with a dictionary of the flows' field names. Existing payloads are kept as they
-- are (plain JSON, which the store still reads) until the record is delivered again.
CREATE TABLE mappings_v3 (
    flow         TEXT NOT NULL,
    source_key   TEXT NOT NULL,
    target_key   TEXT NOT NULL,
    payload_hash BLOB NOT NULL,
    payload      BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (flow, source_key)
);
INSERT INTO mappings_v3 (flow, source_key, target_key, payload_hash, payload, created_at, updated_at)
    SELECT flow, source_key, target_key,
        CASE WHEN length(payload_hash) = 64 AND payload_hash = lower(payload_hash) AND unhex(payload_hash) IS NOT NULL
            THEN unhex(payload_hash) ELSE CAST(payload_hash AS BLOB) END,
        CAST(payload AS BLOB), created_at, updated_at
    FROM mappings;
DROP TABLE mappings;
ALTER TABLE mappings_v3 RENAME TO mappings;
