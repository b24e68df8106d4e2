-- The same rules, checked for less (issue "A district in seconds…"). PostgreSQL's regular
-- expressions unroll a bounded repetition into a state per step: `^[0-9a-f]{64}$` cost about
-- 5 µs a value, and a staged row (its content hash) and a change-log entry (two hashes) paid
-- it on every insert — measured, the checks and domains were over a third of inserting a staged
-- row into a table without indexes. A length and a search for one character outside the class
-- accept exactly the same values: the class holds only one-byte characters, so a value of the
-- right length in bytes with none outside it is that many of them.

-- Every district-scoped row carries the domain.
ALTER DOMAIN district_id DROP CONSTRAINT district_id_check;
ALTER DOMAIN district_id ADD CONSTRAINT district_id_check CHECK (octet_length(VALUE) = 6 AND VALUE !~ '[^0-9]');

-- Citizen ID numbers: 17 digits and a digit or X.
ALTER TABLE source_record DROP CONSTRAINT source_record_national_id_check,
    ADD CONSTRAINT source_record_national_id_check CHECK (octet_length(national_id) = 18 AND national_id ~ '^[0-9]+X?$');
ALTER TABLE resident DROP CONSTRAINT resident_national_id_check,
    ADD CONSTRAINT resident_national_id_check CHECK (octet_length(national_id) = 18 AND national_id ~ '^[0-9]+X?$');

-- SHA-256 digests in lower-case hex.
ALTER TABLE source_record DROP CONSTRAINT source_record_content_hash_check,
    ADD CONSTRAINT source_record_content_hash_check CHECK (octet_length(content_hash) = 64 AND content_hash !~ '[^0-9a-f]');
ALTER TABLE change_log DROP CONSTRAINT change_log_prev_hash_check, DROP CONSTRAINT change_log_hash_check,
    ADD CONSTRAINT change_log_prev_hash_check CHECK (octet_length(prev_hash) = 64 AND prev_hash !~ '[^0-9a-f]'),
    ADD CONSTRAINT change_log_hash_check CHECK (octet_length(hash) = 64 AND hash !~ '[^0-9a-f]');
ALTER TABLE audit_log DROP CONSTRAINT audit_log_prev_hash_check, DROP CONSTRAINT audit_log_hash_check,
    ADD CONSTRAINT audit_log_prev_hash_check CHECK (octet_length(prev_hash) = 64 AND prev_hash !~ '[^0-9a-f]'),
    ADD CONSTRAINT audit_log_hash_check CHECK (octet_length(hash) = 64 AND hash !~ '[^0-9a-f]');
