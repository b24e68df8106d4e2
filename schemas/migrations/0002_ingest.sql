-- Ingest details: per-record problems that did not stop the row, and why a batch failed.

ALTER TABLE source_record ADD COLUMN problems jsonb NOT NULL DEFAULT '[]';

ALTER TABLE ingest_batch ADD COLUMN error_code text;
ALTER TABLE ingest_batch ADD COLUMN error_message text;
ALTER TABLE ingest_batch ADD CONSTRAINT batch_failure_explained CHECK (status <> 'failed' OR error_code IS NOT NULL);

CREATE INDEX ingest_batch_file ON ingest_batch (district, system_id, file_sha256);
