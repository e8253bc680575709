-- create_intents: the target key a create is about to use, written before the create is sent (a
-- write-ahead intent). A create whose outcome was lost (a crash between the vendor's write and the
-- page commit) is sent again by a later run under the same key, whatever happened to the record's
-- name meanwhile, so the target's "already exists" answer reconciles it instead of a second record
-- being created. The page commit that records the mapping deletes the intent.
CREATE TABLE create_intents (
    flow       TEXT NOT NULL,
    source_key TEXT NOT NULL,
    target_key TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (flow, source_key)
);
