-- `resident` and `household` no longer check their district against `district` row by row
-- (issue "A district in seconds…"): the check is a query and a row lock per inserted row, and
-- it doubled the server's time inserting a first load's residents (0.64 → 1.32 s for 147,002)
-- and households (0.19 → 0.42 s for 50,766). It guarded nothing another key does not: both are
-- written only in a transaction that also appends to the district's change log, whose head row
-- (`change_log_head`) and every batch (`ingest_batch`) keep their key to `district`. The
-- integrity test checks that no resident or household names a district the table lacks.
ALTER TABLE resident DROP CONSTRAINT resident_district_fkey;
ALTER TABLE household DROP CONSTRAINT household_district_fkey;
