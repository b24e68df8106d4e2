-- SHA-256 digests as their 32 bytes instead of 64 hexadecimal characters (issue "A district in
-- seconds…"): a record's content hash, and each change-log entry's hash and its predecessor's.
-- Half the bytes of each, and a check on the length alone. The hashes themselves are
-- unchanged (computed over the same text, shown in hexadecimal as before); the type changes
-- rewrite the tables once (no row trigger fires: the change log stays append-only).
ALTER TABLE source_record DROP CONSTRAINT source_record_content_hash_check,
    ALTER COLUMN content_hash TYPE bytea USING decode(content_hash, 'hex'),
    ADD CONSTRAINT source_record_content_hash_check CHECK (octet_length(content_hash) = 32);

ALTER TABLE change_log DROP CONSTRAINT change_log_hash_check, DROP CONSTRAINT change_log_prev_hash_check,
    ALTER COLUMN prev_hash TYPE bytea USING decode(prev_hash, 'hex'),
    ALTER COLUMN hash TYPE bytea USING decode(hash, 'hex'),
    ADD CONSTRAINT change_log_hash_check CHECK (octet_length(hash) = 32),
    ADD CONSTRAINT change_log_prev_hash_check CHECK (octet_length(prev_hash) = 32);
