-- A staged record's `name_key` only where it differs from its `name` (issue "A district in
-- seconds…"): the matching key of a Han name is the name itself (98.6 % of the synthetic
-- district's records), so the column repeated it, ten bytes a record. Null now stands for
-- "the name": readers take `coalesce(name_key, name)`, as the placeholders' and the quality
-- report's counts did already. A name without a key does not occur (every name has one).
-- One rewrite of the table, without a dead version of every row.
ALTER TABLE source_record ALTER COLUMN name_key TYPE text USING nullif(name_key, name);
