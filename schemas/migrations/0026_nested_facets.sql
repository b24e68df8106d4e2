-- A record's facet values grouped by their domain (issue "A district in seconds…"):
-- `{"social_security": {"person_number": …, "insured_status": …}}` instead of every key
-- carrying its domain (`social_security.person_number`, …) — the prefix was a third of the
-- document for the social security feed's rows. Readers flatten it back to qualified names
-- (`SourceRecordWriter.flatFacet`). The type change rewrites the table once.
CREATE FUNCTION pg_temp.nested_facet(flat jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_object_agg(domain, fields), '{}') FROM (
        SELECT split_part(key, '.', 1) AS domain, jsonb_object_agg(substr(key, strpos(key, '.') + 1), value) AS fields
        FROM jsonb_each(flat) GROUP BY 1
    ) grouped
$$;
ALTER TABLE source_record ALTER COLUMN facet TYPE jsonb USING pg_temp.nested_facet(facet);
