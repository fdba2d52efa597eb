-- Group memberships an OpenID Connect provider asserts: the credflow groups
-- named in a user's token at their last sign-in. Kept apart from the ones
-- admins manage, which a sign-in never changes.
CREATE TABLE oidc_group_members (
  group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX oidc_group_members_user ON oidc_group_members (user_id);
