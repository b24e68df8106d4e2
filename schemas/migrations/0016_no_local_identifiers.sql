-- A system's own key is no longer repeated as a resident identifier (issue "A district in
-- seconds…"): the current `source_record` (system, key) and its `link` already say whose it is,
-- cross-references read those, and nothing read the `local_<system>` rows — a third of the
-- table and of a first load's identifier writes.
DELETE FROM resident_identifier WHERE scheme LIKE 'local\_%';
