-- A resident's golden values without their provenance (issue "A district in seconds…"):
-- `resident.golden` maps each field to its value, where `resident.provenance` gave each field
-- an object of value, record, system and rule. Provenance is derived data — the merge of the
-- resident's current records and overrides, which the refresh keeps in step — so `history`
-- and `conflicts` compute it when asked instead of every golden write storing it. Measured on
-- the synthetic district: the document is a third of the JSON to parse on every golden insert
-- and update (parsing was three quarters of inserting a resident) and half the bytes.
-- Fields without a value are left out. The digests stay: the values do not change.

-- ALTER … TYPE rewrites the table once, without leaving a dead version of every resident as
-- an UPDATE would; its USING clause takes no subquery, hence the function.
CREATE FUNCTION pg_temp.golden_values(provenance jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_object_agg(key, value -> 'value'), '{}')
    FROM jsonb_each(provenance) WHERE jsonb_typeof(value -> 'value') = 'string'
$$;
ALTER TABLE resident ALTER COLUMN provenance DROP DEFAULT,
    ALTER COLUMN provenance TYPE jsonb USING pg_temp.golden_values(provenance);
ALTER TABLE resident RENAME COLUMN provenance TO golden;
ALTER TABLE resident ALTER COLUMN golden SET DEFAULT '{}';
