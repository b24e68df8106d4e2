-- Matching beyond our own generator (more blocking keys: name parts, name + birth year, the name
-- alone, an address's numbers and a min-hash of its character pairs; more comparison levels).
-- Keys staged before this migration are of the old kind: cleared, the next matching run reads
-- the whole district once, fills them again and retrains the parameters (stored parameters of
-- the old levels are not read).
UPDATE source_record SET match_keys = NULL WHERE is_current AND match_keys IS NOT NULL;
