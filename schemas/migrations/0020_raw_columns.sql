-- A staged row's raw cells as a JSON array in the order of its system's columns, instead of an
-- object naming every cell (issue "A district in seconds…"): the names (Chinese headers, three
-- bytes a character) were over half of the document, repeated in every row, and parsing the
-- object (its keys sorted) a good part of inserting the row. `source_column` numbers each
-- system's column names from 1 the first time a row has one; element i of `raw` is the cell
-- of position i + 1, null where the row had no such column (a JSON Lines object without that
-- key). Nothing is lost: the names are kept once per system instead of once per row.
CREATE TABLE source_column (
    district district_id NOT NULL,
    system_id text NOT NULL,
    position integer NOT NULL CHECK (position >= 1),
    name text NOT NULL,
    PRIMARY KEY (district, system_id, position),
    UNIQUE (district, system_id, name)
);

INSERT INTO source_column (district, system_id, position, name)
SELECT district, system_id, row_number() OVER (PARTITION BY district, system_id ORDER BY name), name
FROM (SELECT DISTINCT district, system_id, jsonb_object_keys(raw) AS name FROM source_record) named;

-- ALTER … TYPE rewrites the table once, without leaving a dead version of every row as an
-- UPDATE would; its USING clause takes no subquery, hence the function.
CREATE FUNCTION pg_temp.raw_cells(district text, system text, raw jsonb) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(raw -> c.name ORDER BY c.position), '[]')
    FROM source_column c
    WHERE c.district = $1 AND c.system_id = $2
      AND c.position <= (SELECT coalesce(max(k.position), 0) FROM source_column k
                         WHERE k.district = $1 AND k.system_id = $2 AND raw ? k.name)
$$;
ALTER TABLE source_record ALTER COLUMN raw TYPE jsonb USING pg_temp.raw_cells(district, system_id, raw);
