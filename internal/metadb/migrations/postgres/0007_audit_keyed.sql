-- How each audit record's link was computed: 'sha256' (plain SHA-256, the
-- records written before the chain was keyed) or 'hmac-sha256' (HMAC under a
-- key derived from the master key). The switch itself is an audit record,
-- written at start-up once the key is known; its sequence number is kept in
-- meta as audit.keyed_from.
ALTER TABLE audit_log ADD COLUMN link TEXT NOT NULL DEFAULT 'sha256';
