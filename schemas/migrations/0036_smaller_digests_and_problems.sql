-- Two small columns smaller (issue "A district in seconds…"):
-- `resident.inputs_hash`, an MD5 digest kept as 32 hexadecimal characters, becomes a `uuid`
-- (the same 16 bytes: 33 → 16 on disk). A retired resident's digest was the text
-- `retired:<survivor>`; it is now that text's MD5, as the refresh computes it.
ALTER TABLE resident ALTER COLUMN inputs_hash TYPE uuid
    USING CASE WHEN inputs_hash ~ '^[0-9a-f]{32}$' THEN inputs_hash::uuid ELSE md5(inputs_hash)::uuid END;
-- A staged row's `problems` is null when there are none (most rows), rather than `[]`.
-- ALTER … TYPE rewrites the table once, without a dead version of every row.
ALTER TABLE source_record ALTER COLUMN problems DROP NOT NULL, ALTER COLUMN problems DROP DEFAULT,
    ALTER COLUMN problems TYPE jsonb USING nullif(problems, '[]'::jsonb);
