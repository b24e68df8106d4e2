-- A staged row's raw cells as delimited text instead of a JSON array (issue "A district in
-- seconds…"): each cell after U+001F (unit separator), U+001E (record separator) for a column
-- the row does not have. A jsonb array spends four bytes an element on its entry table and a
-- JSON text three on quotes and commas, more than most cells hold: about 40 bytes a row (158 →
-- 119 for a social security row of the synthetic district). A row the form cannot carry — a
-- cell holding either separator, no cells, or one empty cell — stays a JSON array
-- (`RawColumns.cells`); `raw_cells(raw)` reads both as text[], for the hub and for people.
CREATE FUNCTION raw_cells(raw text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN left(raw, 1) = chr(31) THEN string_to_array(substr(raw, 2), chr(31), chr(30))
                ELSE ARRAY(SELECT jsonb_array_elements_text(raw::jsonb)) END
$$;

CREATE FUNCTION pg_temp.delimited_cells(raw jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(raw) = 'array' AND jsonb_array_length(raw) > 0 AND raw <> '[""]'::jsonb
             AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text(raw) AS c(cell) WHERE c.cell ~ '[\x1e\x1f]')
        THEN chr(31) || array_to_string(ARRAY(SELECT jsonb_array_elements_text(raw)), chr(31), chr(30))
        ELSE raw::text
    END
$$;
-- One rewrite of the table, without a dead version of every row.
ALTER TABLE source_record ALTER COLUMN raw TYPE text USING pg_temp.delimited_cells(raw);
