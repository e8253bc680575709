-- The audit trail and the id mappings stored compactly, as in SQLite's migration 6 (see
-- ../000006_compact_trail.up.sql for the layout; the encodings are server/storage/compact's).

-- run_blocks: a run's audit trail, one immutable row per page commit (all of the page's audit rows
-- as one zstd frame). The data is compressed already: STORAGE EXTERNAL keeps TOAST from trying again.
CREATE TABLE run_blocks (
    run_id    TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    first_seq BIGINT NOT NULL,
    last_seq  BIGINT NOT NULL,
    summary   TEXT NOT NULL,
    data      BYTEA NOT NULL,
    PRIMARY KEY (run_id, first_seq)
);
ALTER TABLE run_blocks ALTER COLUMN data SET STORAGE EXTERNAL;

-- record_index: a record's history (RecordHistory), one entry per audit row but the unchanged skips;
-- the rows themselves are read from their blocks.
CREATE TABLE record_index (
    source_key TEXT COLLATE "C" NOT NULL,
    at         BIGINT NOT NULL,
    run_id     TEXT COLLATE "C" NOT NULL,
    seq        BIGINT NOT NULL,
    PRIMARY KEY (source_key, at, run_id, seq)
);

-- run_records keeps the rows of databases made before; the store moves them into blocks when it opens.

-- mappings: the payload hash as its 32 bytes (a hash that is not 64 lower-case hex digits as its
-- text); payloads are already bytea: existing ones stay plain JSON (still read) until delivered again.
ALTER TABLE mappings ALTER COLUMN payload_hash TYPE BYTEA USING
    CASE WHEN payload_hash ~ '^[0-9a-f]{64}$' THEN decode(payload_hash, 'hex') ELSE convert_to(payload_hash, 'UTF8') END;
