-- One index per row instead of two (issue "A district in seconds…"): every row was in both
-- `source_record_current` (one current version per key) and the unique constraint on
-- (district, system, key, version) — about 58 bytes and an index insertion per row for a second
-- copy of the same key. The versions a row supersedes are what the constraint was searched for
-- (a new version's number, the resident a new version inherits); they are indexed on their own
-- now, unique, beside the current one. A key's current version is its newest (the writer
-- retires it only to insert the next), so together they keep every version number unique.
ALTER TABLE source_record DROP CONSTRAINT source_record_district_system_id_source_key_version_key;
CREATE UNIQUE INDEX source_record_superseded ON source_record (district, system_id, source_key, version) WHERE NOT is_current;
