-- The phone number's B-tree back (issue "A district in seconds…"), after 0028 dropped it:
-- every golden refresh, a worker's entry included, counts who else gives the entry's phone
-- numbers (shared and placeholder phones). Through the GIN index of lookup keys that count
-- also reads the index's pending list, which a stream of entries fills between vacuums: at
-- 5,000 pending rows a lookup took 1.4 ms instead of 0.12, and under 2,500 workers the
-- entries' p99 doubled. Names stay counted through the GIN: only a matching run counts them,
-- and it merges the pending list first.
CREATE INDEX source_record_phone ON source_record (district, phone) WHERE is_current AND phone IS NOT NULL;
