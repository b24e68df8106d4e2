-- Lookup keys that hold the full birth date (issue "A district in seconds…"): name, pinyin,
-- sex and division, each name part, the name's start and the address sketches, each with the
-- birth date — kinds 1, 2, 4, 5, 9 and 10 of `MatchEngine.blockingKeys`, the key's top byte —
-- are no longer stored. They were 60 % of the GIN index's entries, and keeping that index up to
-- date was two thirds of the server's time staging a row. Every record holding such a key was
-- born that day, so an incremental run finds their blocks, whole, among the current records
-- born on the same days, through one B-tree entry a record.
UPDATE source_record SET match_keys = ARRAY(SELECT k FROM unnest(match_keys) AS k WHERE (k >> 56) NOT IN (1, 2, 4, 5, 9, 10))
WHERE is_current AND match_keys IS NOT NULL;
CREATE INDEX source_record_birth_day ON source_record (district, birth_date) WHERE is_current AND birth_date IS NOT NULL;
