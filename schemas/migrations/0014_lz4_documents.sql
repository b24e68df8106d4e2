-- The large JSON documents compressed with lz4 instead of pglz (issue "A district in seconds…"):
-- a golden update rewrites the resident's provenance document, and pglz was a fifth of that
-- update; lz4 writes in about three quarters of the time, reads in under half, and is smaller.
-- Only values written from now on are affected. A server built without lz4 keeps pglz: the
-- documents read the same either way.
DO $$
BEGIN
    ALTER TABLE resident ALTER COLUMN provenance SET COMPRESSION lz4;
    ALTER TABLE source_record ALTER COLUMN raw SET COMPRESSION lz4,
        ALTER COLUMN fields SET COMPRESSION lz4, ALTER COLUMN facet SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this server has no lz4 compression: the documents stay compressed with pglz';
END $$;
