-- Facets a community worker may change beside the core fields (issue "The sync CLI…"):
-- `yibiao worker add --facet civil_affairs`. Empty: core fields only.
ALTER TABLE worker
    ADD COLUMN facets text[] NOT NULL DEFAULT '{}'
        CHECK (facets <@ ARRAY['civil_affairs', 'family_planning', 'party', 'social_security']::text[]);
