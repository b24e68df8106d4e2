-- Field names in change-log documents by number (issue "A district in seconds…"): a first
-- load's entry names nearly thirty fields, and their names (`family_planning.one_child_certificate_date`)
-- were about half of its document, repeated in every entry. `change_field` numbers a district's
-- field names once; an entry stores `{"new": {"12": …}}` where it stored the name. Entries already
-- written keep their names (the log is append-only): readers take either, and the hash covers
-- the canonical form with names, as before, so `log verify` checks both alike.
CREATE TABLE change_field (
    district district_id NOT NULL,
    number integer NOT NULL CHECK (number >= 1),
    -- A stored key of digits is a number: no name may be one.
    name text NOT NULL CHECK (name !~ '^[0-9]+$' AND name <> ''),
    PRIMARY KEY (district, number),
    UNIQUE (district, name)
);
