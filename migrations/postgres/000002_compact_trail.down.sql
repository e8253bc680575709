-- Back to version 1's layout. SQL cannot decompress: the audit rows kept in run_blocks are dropped with
-- it (the runs stay), and a compressed mapping payload becomes empty (no field diff in Preview for that
-- record); the hash, which decides what is sent, is kept as hex.
DROP TABLE record_index;
DROP TABLE run_blocks;
ALTER TABLE mappings ALTER COLUMN payload_hash TYPE TEXT USING
    CASE WHEN length(payload_hash) = 32 THEN encode(payload_hash, 'hex') ELSE convert_from(payload_hash, 'UTF8') END;
UPDATE mappings SET payload = CASE WHEN get_byte(payload, 0) = 0 THEN substring(payload FROM 2) ELSE ''::bytea END
    WHERE length(payload) > 0 AND get_byte(payload, 0) < 2;
