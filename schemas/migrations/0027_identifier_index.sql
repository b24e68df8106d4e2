-- One index for `resident_identifier` instead of two (issue "A district in seconds…"). Every
-- reader looks an identifier up by scheme and value (a consumer's lookup by ID number, a
-- worker's sheet, a history by ID); the primary key led by the resident served none of them,
-- and the second index repeated its columns in another order: about 11 MB and an index
-- insertion per identifier at 200,000 residents. The primary key now leads with what is
-- looked up and still makes each (resident, scheme, value) unique.
ALTER TABLE resident_identifier DROP CONSTRAINT resident_identifier_pkey;
ALTER TABLE resident_identifier ADD PRIMARY KEY (district, scheme, value, resident_id);
DROP INDEX resident_identifier_value;
