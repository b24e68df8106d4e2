-- The golden community code as a column of its own (issue "A district in seconds…"): the
-- index on the provenance document's path decompressed and parsed the whole document on
-- every golden update, as dear as the other indexes of the table together.
ALTER TABLE resident ADD COLUMN community_code text;
UPDATE resident SET community_code = provenance #>> '{community_code,value}'
WHERE provenance #>> '{community_code,value}' IS NOT NULL;
DROP INDEX resident_community;
CREATE INDEX resident_community ON resident (district, community_code) WHERE status = 'active';
