-- A variable share that a credential share gave remembers that credential
-- (via_credential), so that it follows the credential share's expiry and role
-- and can be told apart from a share given directly (via_credential = '').
-- A principal may hold one direct share of a variable and one per credential
-- that gave it; each is removed on its own terms.
ALTER TABLE shares ADD COLUMN via_credential TEXT NOT NULL DEFAULT ''
  CHECK (via_credential = '' OR object_kind = 'variable');
ALTER TABLE shares DROP CONSTRAINT shares_pkey;
ALTER TABLE shares ADD PRIMARY KEY (object_kind, object_id, principal_kind, principal_id, via_credential);

-- Variable shares written by a credential share before this migration carry
-- the user role and the credential share's creation time: they become that
-- credential's, and take its expiry.
UPDATE shares SET via_credential = (
    SELECT min(c.object_id) FROM shares c JOIN credentials cr ON cr.id = c.object_id
    WHERE c.object_kind = 'credential' AND c.principal_kind = shares.principal_kind AND c.principal_id = shares.principal_id
      AND c.created_at = shares.created_at AND shares.object_id IN (cr.username_var_id, cr.password_var_id))
  WHERE object_kind = 'variable' AND role = 'user' AND EXISTS (
    SELECT 1 FROM shares c JOIN credentials cr ON cr.id = c.object_id
    WHERE c.object_kind = 'credential' AND c.principal_kind = shares.principal_kind AND c.principal_id = shares.principal_id
      AND c.created_at = shares.created_at AND shares.object_id IN (cr.username_var_id, cr.password_var_id));
UPDATE shares SET expires_at = (
    SELECT c.expires_at FROM shares c WHERE c.object_kind = 'credential' AND c.object_id = shares.via_credential
      AND c.principal_kind = shares.principal_kind AND c.principal_id = shares.principal_id)
  WHERE via_credential <> '';
