-- A source record's `fields` and `facet` as delimited text instead of jsonb objects (issue "A
-- district in seconds…"): each pair after U+001E (record separator), its key and value split by
-- U+001F (unit separator), keys in byte order; no pairs is the empty text. A jsonb object
-- spends eight bytes a pair on its table of entries (a social security row's facet: 93 → 44
-- bytes). A document whose key or value holds either separator, or whose value is not a string,
-- stays a JSON object (`{` first). `field_pairs(doc)` and `field_value(doc, key)` read both,
-- for the hub and for people: `SELECT p.* FROM source_record r, field_pairs(r.facet) p WHERE …`.
-- A pair without its unit separator (never written) reads as a null key, which no reader takes
-- for a field.
CREATE FUNCTION field_pairs(doc text) RETURNS TABLE (key text, value text) LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN strpos(p, chr(31)) > 0 THEN split_part(p, chr(31), 1) END, substr(p, strpos(p, chr(31)) + 1)
    FROM unnest(string_to_array(substr(doc, 2), chr(30))) AS p
    WHERE left(doc, 1) = chr(30)
    UNION ALL
    SELECT j.key, j.value FROM jsonb_each_text(CASE WHEN left(doc, 1) = '{' THEN doc::jsonb END) AS j
$$;

-- One expression, so that the planner inlines it.
CREATE FUNCTION field_value(doc text, wanted text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN left(doc, 1) = '{' THEN doc::jsonb ->> wanted
        WHEN strpos(doc, chr(30) || wanted || chr(31)) > 0
        THEN split_part(substr(doc, strpos(doc, chr(30) || wanted || chr(31)) + length(wanted) + 2), chr(30), 1)
    END
$$;

CREATE FUNCTION pg_temp.delimited_pairs(doc jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(doc) <> 'object'
             OR EXISTS (SELECT 1 FROM jsonb_each(doc) AS e
                        WHERE jsonb_typeof(e.value) <> 'string' OR e.key ~ '[\x1e\x1f]' OR (e.value #>> '{}') ~ '[\x1e\x1f]')
        THEN doc::text
        ELSE coalesce((SELECT string_agg(chr(30) || e.key || chr(31) || e.value, '' ORDER BY e.key COLLATE "C")
                       FROM jsonb_each_text(doc) AS e), '')
    END
$$;
-- One rewrite of the table, without a dead version of every row.
ALTER TABLE source_record
    ALTER COLUMN facet DROP DEFAULT,
    ALTER COLUMN fields TYPE text USING pg_temp.delimited_pairs(fields),
    ALTER COLUMN facet TYPE text USING pg_temp.delimited_pairs(facet),
    ALTER COLUMN facet SET DEFAULT '';
