-- District codes as text. The domain was char(6): a query parameter binds as text, so
-- PostgreSQL compared district::text = $1, cast the column, and could not use any index
-- (every one leads with district) to narrow by district. Six digits either way (the check
-- stays); as text the parameter and the column meet as they are. Every table in one
-- transaction, referenced and referencing sides alike.
CREATE DOMAIN district_id AS text CHECK (VALUE ~ '^[0-9]{6}$');

ALTER TABLE district ALTER COLUMN district TYPE district_id;
ALTER TABLE audit_log ALTER COLUMN district TYPE district_id;
ALTER TABLE audit_log_head ALTER COLUMN district TYPE district_id;
ALTER TABLE change_log ALTER COLUMN district TYPE district_id;
ALTER TABLE change_log_head ALTER COLUMN district TYPE district_id;
ALTER TABLE civil_affairs_facet ALTER COLUMN district TYPE district_id;
ALTER TABLE conflict ALTER COLUMN district TYPE district_id;
ALTER TABLE consumer ALTER COLUMN district TYPE district_id;
ALTER TABLE consumer_cursor ALTER COLUMN district TYPE district_id;
ALTER TABLE family_planning_facet ALTER COLUMN district TYPE district_id;
ALTER TABLE household ALTER COLUMN district TYPE district_id;
ALTER TABLE household_member ALTER COLUMN district TYPE district_id;
ALTER TABLE ingest_batch ALTER COLUMN district TYPE district_id;
ALTER TABLE link ALTER COLUMN district TYPE district_id;
ALTER TABLE match_parameters ALTER COLUMN district TYPE district_id;
ALTER TABLE outbox ALTER COLUMN district TYPE district_id;
ALTER TABLE override ALTER COLUMN district TYPE district_id;
ALTER TABLE pair_decision ALTER COLUMN district TYPE district_id;
ALTER TABLE party_facet ALTER COLUMN district TYPE district_id;
ALTER TABLE quarantine ALTER COLUMN district TYPE district_id;
ALTER TABLE resident ALTER COLUMN district TYPE district_id;
ALTER TABLE resident_event ALTER COLUMN district TYPE district_id;
ALTER TABLE resident_field ALTER COLUMN district TYPE district_id;
ALTER TABLE resident_identifier ALTER COLUMN district TYPE district_id;
ALTER TABLE review_item ALTER COLUMN district TYPE district_id;
ALTER TABLE social_security_facet ALTER COLUMN district TYPE district_id;
ALTER TABLE source_record ALTER COLUMN district TYPE district_id;
ALTER TABLE worker ALTER COLUMN district TYPE district_id;

DROP DOMAIN district_code;
