-- A golden record's fields by number (issue "A district in seconds…"), as the change log's (0029)
-- and the facets' (0031): `{"name": "张伟", "social_security.person_number": …}` becomes
-- `{"2": "张伟", "38": …}`. The names were over half of the document (308 of 572 bytes a
-- resident in the synthetic district), and every golden update writes the document whole. A
-- name the table does not number stays a name; the hub's readers take both.

-- Every name already in a golden record gets a number (the hub numbers the rest of the canonical
-- fields when it next writes), after the district's highest, in name order.
INSERT INTO field_number (district, number, name)
SELECT n.district, coalesce(m.top, 0) + row_number() OVER (PARTITION BY n.district ORDER BY n.name), n.name
FROM (SELECT DISTINCT r.district, g.key AS name FROM resident r, jsonb_object_keys(r.golden) g(key)) n
LEFT JOIN (SELECT district, max(number) AS top FROM field_number GROUP BY district) m ON m.district = n.district
WHERE NOT EXISTS (SELECT 1 FROM field_number x WHERE x.district = n.district AND x.name = n.name);

-- ALTER … TYPE rewrites the table once, without a dead version of every row; its USING clause
-- takes no subquery, hence the function.
CREATE FUNCTION pg_temp.numbered_golden(district text, golden jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_object_agg(coalesce(n.number::text, g.key), g.value), '{}'::jsonb)
    FROM jsonb_each(golden) g
    LEFT JOIN field_number n ON n.district = $1 AND n.name = g.key
$$;
ALTER TABLE resident ALTER COLUMN golden TYPE jsonb USING pg_temp.numbered_golden(district, golden);

-- For people reading the numbered documents by hand: `named_fields(district, golden)` gives
-- the golden record, a facet or an entry's `new` with names (a key without a number is kept).
CREATE FUNCTION named_fields(district text, document jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_object_agg(coalesce(n.name, d.key), d.value), '{}'::jsonb)
    FROM jsonb_each(document) d
    LEFT JOIN field_number n ON n.district = $1 AND n.number::text = d.key
$$;
