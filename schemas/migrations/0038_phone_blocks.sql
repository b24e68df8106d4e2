-- The phone's lookup key (kind 3 of `MatchEngine.blockingKeys`) is no longer stored either
-- (issue "A district in seconds…"): its holders are the current records with that phone,
-- which `source_record_phone` finds (the golden records' placeholders and the matcher's
-- phone frequencies read it already). A quarter of the GIN index's remaining entries.
UPDATE source_record SET match_keys = ARRAY(SELECT k FROM unnest(match_keys) AS k WHERE (k >> 56) <> 3)
WHERE is_current AND match_keys IS NOT NULL;
