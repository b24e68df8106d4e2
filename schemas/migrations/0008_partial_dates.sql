-- Dates known to the day, the month or the year (`1977-10-05`, `1977-10`, `1977`): registers hold
-- birth dates as 1977年10月, and inventing a day would be a silently wrong value. The columns
-- matching and the golden record lift out of the fields become ISO text at their precision.
CREATE DOMAIN partial_date AS text CHECK (VALUE ~ '^[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01]))?)?$');

ALTER TABLE source_record ALTER COLUMN birth_date TYPE partial_date USING birth_date::text;

-- A death before the birth cannot both be right: with partial dates, the last day the death can
-- be against the first day the birth can be (text order is date order for these forms).
DO $$
DECLARE constraint_name text;
BEGIN
    FOR constraint_name IN
        SELECT conname FROM pg_constraint
        WHERE conrelid = 'resident'::regclass AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%death_date%birth_date%'
    LOOP
        EXECUTE format('ALTER TABLE resident DROP CONSTRAINT %I', constraint_name);
    END LOOP;
END $$;
DROP INDEX IF EXISTS resident_name_birth;
ALTER TABLE resident ALTER COLUMN birth_date TYPE partial_date USING birth_date::text,
    ALTER COLUMN death_date TYPE partial_date USING death_date::text;
ALTER TABLE resident ADD CONSTRAINT resident_death_after_birth
    CHECK (death_date IS NULL OR birth_date IS NULL OR rpad(death_date, 10, '-99') >= birth_date);
CREATE INDEX resident_name_birth ON resident (district, name_key, birth_date);
