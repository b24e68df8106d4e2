-- Community workers who enter data through the API (the sync client, issue "The sync CLI…"),
-- and the entries they sent, so that an entry sent twice changes nothing the second time.

-- A worker is bound to one or more communities of its district (12-digit codes).
ALTER TABLE worker
    DROP COLUMN community_code,
    ADD COLUMN communities text[] NOT NULL DEFAULT '{}' CHECK (cardinality(communities) >= 1),
    ADD COLUMN token_hint text NOT NULL DEFAULT '',
    ADD COLUMN token_rotated_at timestamptz,
    ADD COLUMN created_by text NOT NULL DEFAULT 'unknown',
    ADD COLUMN disabled_at timestamptz,
    ADD CONSTRAINT worker_disabled_explained CHECK (active OR disabled_at IS NOT NULL);
CREATE UNIQUE INDEX worker_token ON worker (district, token_sha256);

-- One row per entry id (made once on the worker's machine): the answer it got.
CREATE TABLE worker_entry (
    district district_id NOT NULL,
    entry_id text NOT NULL CHECK (entry_id ~ '^[A-Za-z0-9_-]{8,64}$'),
    worker_id text NOT NULL,
    resident_id bigint NOT NULL,
    fields text[] NOT NULL,
    -- The change-log entry it made; null when it changed nothing (the values were there already).
    change_seq bigint,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district, entry_id),
    FOREIGN KEY (district, worker_id) REFERENCES worker (district, worker_id)
);
