-- A link's evidence in columns instead of a JSON document per link (issue "A district in
-- seconds…"): the document repeated the link's method and weight and spent about half of its
-- 216 bytes on keys and structure. Kept: the other record of the strongest pair, the
-- probability, and the comparisons in the compact text of migration 0015. A link without
-- evidence (a record alone, a person's decision) has none of the three.
ALTER TABLE link ADD COLUMN other_record bigint, ADD COLUMN probability real;

UPDATE link SET other_record = (explanation ->> 'other_record')::bigint, probability = (explanation ->> 'probability')::real
WHERE explanation ? 'other_record';

-- The type change rewrites the table: the old documents' space is given back, not left in
-- every row as a dropped column's would be.
ALTER TABLE link ALTER COLUMN explanation DROP DEFAULT, ALTER COLUMN explanation DROP NOT NULL,
    ALTER COLUMN explanation TYPE text USING explanation ->> 'comparisons';
ALTER TABLE link RENAME COLUMN explanation TO comparisons;
ALTER TABLE link ADD CONSTRAINT link_evidence_whole
    CHECK ((other_record IS NULL) = (comparisons IS NULL) AND (other_record IS NULL) = (probability IS NULL));
