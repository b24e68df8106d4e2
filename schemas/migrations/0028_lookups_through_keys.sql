-- Names and phone numbers counted through the index of stored lookup keys (issue "A district in
-- seconds…"): every current record holds its name's and its phone's key in `match_keys`, whose
-- GIN index the incremental run already probes, so the two B-trees that only counted a name's
-- or a phone's records repeated it — about 65 bytes a record and two index insertions a row.
DROP INDEX source_record_name_key;
DROP INDEX source_record_phone;
