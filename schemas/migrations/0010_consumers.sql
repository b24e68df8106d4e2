-- Downstream access: consumers with field grants, masking and scope; the audit log's shape for
-- reads. docs/consumers.md is the user's page.

-- A consumer belongs to one district (its tenant): every read it makes is routed to that district.
-- A department serving several districts is a consumer in each.
ALTER TABLE consumer
    ADD COLUMN legal_basis text NOT NULL CHECK (legal_basis <> ''),
    -- Sensitive facets (party, family planning) are granted only with a stated purpose: facet → purpose.
    ADD COLUMN facet_purposes jsonb NOT NULL DEFAULT '{}',
    -- Fields shown in full that are masked by default (ID numbers, phones, certificate numbers).
    ADD COLUMN unmasked_fields text[] NOT NULL DEFAULT '{}',
    -- Fields masked that are shown in full by default (a name, for a statistics office).
    ADD COLUMN masked_fields text[] NOT NULL DEFAULT '{}',
    -- Systems whose local keys the consumer may see in a cross-reference.
    ADD COLUMN systems text[] NOT NULL DEFAULT '{}',
    -- Empty: the whole district. Else the 12-digit codes of the communities whose residents it sees.
    ADD COLUMN communities text[] NOT NULL DEFAULT '{}',
    -- Requests per minute before 429.
    ADD COLUMN rate_per_minute integer NOT NULL DEFAULT 600 CHECK (rate_per_minute > 0),
    -- The start of the token (never enough to use it), so a person can tell tokens apart.
    ADD COLUMN token_hint text NOT NULL DEFAULT '',
    ADD COLUMN token_rotated_at timestamptz,
    ADD COLUMN created_by text NOT NULL DEFAULT 'unknown',
    ADD COLUMN disabled_at timestamptz,
    ADD COLUMN disabled_by text,
    DROP COLUMN unmasked_ids,
    ADD CONSTRAINT consumer_disabled_explained CHECK (active OR disabled_at IS NOT NULL);
CREATE UNIQUE INDEX consumer_token ON consumer (district, token_sha256);

-- The community a resident's golden record places them in, for a community consumer's scope.
CREATE INDEX resident_community ON resident (district, (provenance #>> '{community_code,value}'))
    WHERE status = 'active';

-- The audit log lists by time and by actor.
CREATE INDEX audit_log_actor ON audit_log (district, actor, seq);
