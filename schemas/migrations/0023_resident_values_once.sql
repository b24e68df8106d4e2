-- A resident's values once, in `resident.golden` (issue "A district in seconds…"): the columns
-- that repeated them for no reader — name, its matching and pinyin keys, sex, citizen ID number,
-- phone, division code, address, marital and political status — and the two indexes over them
-- (name key + birth date, ID number; lookups go through `resident_identifier` and records)
-- are dropped. Kept as columns: what an index, a check or a join needs (`community_code`,
-- `birth_date` and `death_date` for the death-after-birth check, status, version, digest).
ALTER TABLE resident
    DROP COLUMN name, DROP COLUMN name_key, DROP COLUMN pinyin_key, DROP COLUMN sex, DROP COLUMN national_id,
    DROP COLUMN phone, DROP COLUMN division_code, DROP COLUMN address, DROP COLUMN marital_status,
    DROP COLUMN political_status,
    -- Rewrites the table in the same statement (an expression, not the column itself), so the
    -- dropped columns' bytes are given back now rather than kept in every row.
    ALTER COLUMN golden TYPE jsonb USING golden || '{}'::jsonb;
