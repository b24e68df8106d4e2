-- A link's comparisons kept once per district (issue "A district in seconds…"): a run's links
-- hold a few hundred distinct texts among 180,000 (the levels of six comparisons and their
-- weights under one set of parameters), 48 bytes each. A link now names its text by a number
-- in `link_comparisons` (4 bytes). Written by the matching run alone, under the district's
-- lock, together with the links that name it; never changed or deleted. No foreign key: the
-- check would lock the shared row once per link of a first load (the integrity test checks
-- that every number is there).
CREATE TABLE link_comparisons (
    district       district_id NOT NULL,
    comparisons_id integer NOT NULL CHECK (comparisons_id >= 1),
    comparisons    text NOT NULL,
    PRIMARY KEY (district, comparisons_id),
    UNIQUE (district, comparisons)
);

INSERT INTO link_comparisons (district, comparisons_id, comparisons)
SELECT district, row_number() OVER (PARTITION BY district ORDER BY comparisons)::int, comparisons
FROM (SELECT DISTINCT district, comparisons FROM link WHERE comparisons IS NOT NULL) AS texts;

CREATE FUNCTION pg_temp.comparisons_id(district text, comparisons text) RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT c.comparisons_id FROM link_comparisons c WHERE c.district = $1 AND c.comparisons = $2
$$;
-- One rewrite of the table, without a dead version of every link.
ALTER TABLE link ALTER COLUMN comparisons TYPE integer USING pg_temp.comparisons_id(district, comparisons);
ALTER TABLE link RENAME COLUMN comparisons TO comparisons_id;
