-- Incremental matching: a run matches the records waiting for it against the candidates their
-- keys reach, instead of reading the whole district.

-- Records to match: every record staged (a new row or a new version), and both records of a
-- person's pair decision. Written in the transaction that stages or decides, emptied by the
-- matching run that links them, so a run that stops half-way leaves them waiting.
CREATE TABLE match_queue (
    district district_id NOT NULL,
    record_id bigint NOT NULL,
    PRIMARY KEY (district, record_id)
);
INSERT INTO match_queue (district, record_id)
SELECT r.district, r.record_id FROM source_record r
WHERE r.is_current AND NOT EXISTS (SELECT 1 FROM link l WHERE l.district = r.district AND l.record_id = r.record_id);

-- The keys a record is found by (`MatchEngine.lookupKeys`: its blocking keys), computed by staging. One GIN index answers "who shares a key with these records"
-- and "how large is that block", and replaces the five per-key indexes. Rows staged before this
-- migration have none; the next matching run reads the whole district once and fills them.
ALTER TABLE source_record ADD COLUMN match_keys text[];
CREATE INDEX source_record_match_keys ON source_record USING gin (match_keys) WHERE is_current;
CREATE INDEX source_record_keyless ON source_record (district) WHERE is_current AND match_keys IS NULL;
DROP INDEX source_record_national_id;
DROP INDEX source_record_name_birth;
DROP INDEX source_record_pinyin_birth;
DROP INDEX source_record_phone;
DROP INDEX source_record_birth_sex_division;

-- What a district's links and golden records were last computed with: other parameters or
-- other rules mean the whole district is matched or merged again, once.
CREATE TABLE district_state (
    district district_id PRIMARY KEY REFERENCES district,
    matched_with_parameters integer,
    golden_rules_sha256 text
);

-- The adapter a batch was read with (its file's SHA-256): the same file under the same adapter,
-- already ingested as the system's latest batch, is not read again.
ALTER TABLE ingest_batch ADD COLUMN adapter_sha256 text;

-- Foreign keys on the tables the pipeline writes in bulk. Each inserted row's check runs a
-- query and takes a key-share lock on the row it references (a resident this very transaction
-- just updated), which cost more than writing the rows themselves: a district's first load spent
-- most of its change-log COPY and household statements there. These rows are written only by
-- set-based statements from rows the same transaction has just read or created; the invariants
-- stay checked, by a test after every pipeline step (`IncrementalMatchingTests`) rather than row
-- by row. Low-volume tables (conflicts, overrides, reviews, decisions, events) keep theirs.
ALTER TABLE source_record DROP CONSTRAINT source_record_system_id_fkey;
ALTER TABLE source_record DROP CONSTRAINT source_record_district_fkey;
ALTER TABLE source_record DROP CONSTRAINT source_record_district_batch_id_fkey;
ALTER TABLE resident_identifier DROP CONSTRAINT resident_identifier_district_resident_id_fkey;
ALTER TABLE resident_identifier DROP CONSTRAINT resident_identifier_district_record_id_fkey;
ALTER TABLE link DROP CONSTRAINT link_district_resident_id_fkey;
ALTER TABLE link DROP CONSTRAINT link_district_record_id_fkey;
ALTER TABLE resident_field DROP CONSTRAINT resident_field_district_resident_id_fkey;
ALTER TABLE change_log DROP CONSTRAINT change_log_district_resident_id_fkey;
ALTER TABLE household_member DROP CONSTRAINT household_member_district_resident_id_fkey;
ALTER TABLE household_member DROP CONSTRAINT household_member_district_household_id_fkey;

-- Statistics on the jsonb columns cost most of every ANALYZE of source_record (staging analyses
-- it as a first load grows) and no query filters on them. Nothing reads by batch any more.
ALTER TABLE source_record ALTER COLUMN raw SET STATISTICS 0, ALTER COLUMN fields SET STATISTICS 0,
    ALTER COLUMN facet SET STATISTICS 0, ALTER COLUMN problems SET STATISTICS 0;
DROP INDEX source_record_batch;

-- Term frequencies (how many current records share a name or a phone) are counted at match
-- time for the values a run loaded, through these two indexes.
CREATE INDEX source_record_name_key ON source_record (district, name_key) WHERE is_current AND name_key IS NOT NULL;
CREATE INDEX source_record_phone ON source_record (district, phone) WHERE is_current AND phone IS NOT NULL;

-- Provenance as one jsonb object per resident (field → value, record, system, rule) instead of
-- one row per field: a district's first build wrote fifteen rows and index entries per resident
-- (2.2 million for 150,000 residents), where now the resident row it updates anyway carries it.
-- Every reader wants a resident's fields together; the change log keeps each change.
ALTER TABLE resident ADD COLUMN provenance jsonb NOT NULL DEFAULT '{}';
UPDATE resident r SET provenance = p.fields
FROM (
    SELECT district, resident_id,
           jsonb_object_agg(field, jsonb_build_object('value', value, 'record', record_id, 'system', system_id, 'rule', rule)) AS fields
    FROM resident_field GROUP BY district, resident_id
) p
WHERE r.district = p.district AND r.resident_id = p.resident_id;
DROP TABLE resident_field;
ALTER TABLE resident ALTER COLUMN provenance SET STATISTICS 0;
