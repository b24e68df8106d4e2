-- A staged record's facet by field number (issue "A district in seconds…"): the numbers the
-- change log names fields by (0029) serve the facet too, so the table is named for what it holds.
-- `{"social_security": {"person_number": …}}` becomes `{"38": …}`: the names were about half
-- of the facet, repeated in every row (184 → 95 bytes a record on average in the synthetic
-- district). A name the table does not number stays a name; readers take both
-- (`SourceRecordWriter.facetPairs`).
ALTER TABLE change_field RENAME TO field_number;
ALTER TABLE field_number RENAME CONSTRAINT change_field_pkey TO field_number_pkey;
ALTER TABLE field_number RENAME CONSTRAINT change_field_district_name_key TO field_number_district_name_key;

-- Every facet name already staged gets a number (the hub numbers the rest of the canonical
-- fields when it next writes), after the district's highest, in name order.
INSERT INTO field_number (district, number, name)
SELECT n.district, coalesce(m.top, 0) + row_number() OVER (PARTITION BY n.district ORDER BY n.name), n.name
FROM (
    SELECT DISTINCT s.district, d.key || '.' || f.key AS name
    FROM source_record s, jsonb_each(s.facet) d, jsonb_each(d.value) f
    WHERE jsonb_typeof(d.value) = 'object'
) n
LEFT JOIN (SELECT district, max(number) AS top FROM field_number GROUP BY district) m ON m.district = n.district
WHERE NOT EXISTS (SELECT 1 FROM field_number x WHERE x.district = n.district AND x.name = n.name);

-- ALTER … TYPE rewrites the table once, without a dead version of every row; its USING clause
-- takes no subquery, hence the function.
CREATE FUNCTION pg_temp.numbered_facet(district text, facet jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_object_agg(coalesce(n.number::text, d.key || '.' || f.key), f.value), '{}'::jsonb)
    FROM jsonb_each(facet) d
    CROSS JOIN LATERAL jsonb_each(d.value) f
    LEFT JOIN field_number n ON n.district = $1 AND n.name = d.key || '.' || f.key
$$;
ALTER TABLE source_record ALTER COLUMN facet TYPE jsonb USING pg_temp.numbered_facet(district, facet);
