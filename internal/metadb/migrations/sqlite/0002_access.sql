ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT 'local';

CREATE TABLE groups (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX groups_name ON groups (lower(name));

CREATE TABLE group_members (
  group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- Who holds which role on a credential or an environment variable. The
-- object's own table has no foreign key here because the object is one of
-- two kinds; the repositories delete an object's shares with the object.
CREATE TABLE shares (
  object_kind    TEXT NOT NULL CHECK (object_kind IN ('credential', 'variable')),
  object_id      TEXT NOT NULL,
  principal_kind TEXT NOT NULL CHECK (principal_kind IN ('user', 'group')),
  principal_id   TEXT NOT NULL,
  role           TEXT NOT NULL CHECK (role IN ('owner', 'co-owner', 'user-share', 'user')),
  expires_at     TIMESTAMP,
  created_at     TIMESTAMP NOT NULL,
  PRIMARY KEY (object_kind, object_id, principal_kind, principal_id)
);
CREATE INDEX shares_principal ON shares (principal_kind, principal_id);

CREATE TABLE store_grants (
  store_id       TEXT NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
  principal_kind TEXT NOT NULL CHECK (principal_kind IN ('user', 'group')),
  principal_id   TEXT NOT NULL,
  prefix         TEXT NOT NULL DEFAULT '',
  created_at     TIMESTAMP NOT NULL,
  PRIMARY KEY (store_id, principal_kind, principal_id)
);

CREATE TABLE audit_log (
  seq        INTEGER PRIMARY KEY,
  at         TIMESTAMP NOT NULL,
  actor      TEXT NOT NULL,
  action     TEXT NOT NULL,
  resource   TEXT NOT NULL,
  outcome    TEXT NOT NULL,
  reason     TEXT NOT NULL DEFAULT '',
  request_id TEXT NOT NULL DEFAULT '',
  client     TEXT NOT NULL DEFAULT '',
  prev_hash  BLOB NOT NULL,
  hash       BLOB NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Objects created before sharing existed are owned by their creator.
INSERT INTO shares (object_kind, object_id, principal_kind, principal_id, role, created_at)
  SELECT 'credential', id, 'user', owner_id, 'owner', created_at FROM credentials;
INSERT INTO shares (object_kind, object_id, principal_kind, principal_id, role, created_at)
  SELECT 'variable', id, 'user', owner_id, 'owner', created_at FROM environment_variables;
