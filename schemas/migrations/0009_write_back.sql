-- Write-back: what each system is owed, held until a person releases it, delivered as numbered
-- files or HTTP requests, acknowledged, and confirmed when the system's next feed echoes it.

-- One row per district and system that can receive updates: the adapter its latest feed came
-- through (the outbound mapping is read from it), and whether a person has released delivery.
CREATE TABLE outbound_system (
    district district_id NOT NULL REFERENCES district,
    system_id text NOT NULL REFERENCES source_system,
    adapter text NOT NULL,
    adapter_yaml text NOT NULL,
    adapter_sha256 text NOT NULL CHECK (adapter_sha256 ~ '^[0-9a-f]{64}$'),
    released boolean NOT NULL DEFAULT false,
    released_at timestamptz,
    released_by text,
    last_delivery_no bigint NOT NULL DEFAULT 0 CHECK (last_delivery_no >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (district, system_id)
);

-- One delivered (or being written) file: its rows are the outbox rows with its number.
CREATE TABLE outbox_delivery (
    district district_id NOT NULL,
    system_id text NOT NULL,
    delivery_no bigint NOT NULL CHECK (delivery_no >= 1),
    file_name text NOT NULL,
    rows integer NOT NULL CHECK (rows >= 0),
    sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    status text NOT NULL DEFAULT 'writing' CHECK (status IN ('writing', 'written', 'acknowledged')),
    created_at timestamptz NOT NULL DEFAULT now(),
    written_at timestamptz,
    acknowledged_at timestamptz,
    PRIMARY KEY (district, system_id, delivery_no),
    FOREIGN KEY (district, system_id) REFERENCES outbound_system (district, system_id)
);

ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check CHECK (status IN (
    'held', 'pending', 'sent', 'acknowledged', 'confirmed', 'not_applied', 'overtaken', 'failed', 'dead', 'superseded'));
ALTER TABLE outbox
    ADD COLUMN source_key text NOT NULL CHECK (source_key <> ''),
    -- The system's record version the update was computed against.
    ADD COLUMN record_id bigint NOT NULL,
    ADD COLUMN cause text NOT NULL,
    -- The fields the update changes (its payload carries old → new and the row's cells).
    ADD COLUMN fields text[] NOT NULL,
    ADD COLUMN delivery_no bigint,
    ADD COLUMN created_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN confirmed_at timestamptz;
ALTER TABLE outbox ALTER COLUMN status SET DEFAULT 'held';
DROP INDEX IF EXISTS outbox_due;
CREATE INDEX outbox_due ON outbox (district, system_id, next_attempt_at) WHERE status IN ('pending', 'failed');
-- Unsent and in-flight updates per person: superseding, echoes, the merge's guard.
CREATE INDEX outbox_open ON outbox (district, system_id, source_key)
    WHERE status IN ('held', 'pending', 'failed', 'sent', 'acknowledged', 'not_applied');
CREATE INDEX outbox_by_seq ON outbox (district, change_seq);
-- Updates out and not yet shown back: what the system will hold (every refresh asks).
CREATE INDEX outbox_in_flight ON outbox (district, system_id, source_key) WHERE status IN ('sent', 'acknowledged');
-- Updates a system did not apply: every golden refresh asks, and there are usually none.
CREATE INDEX outbox_not_applied ON outbox (district) WHERE status = 'not_applied';
CREATE INDEX outbox_by_delivery ON outbox (district, system_id, delivery_no) WHERE delivery_no IS NOT NULL;
