CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE users (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  display_name TEXT NOT NULL DEFAULT '',
  role         TEXT NOT NULL CHECK (role IN ('admin', 'maker', 'runner')),
  created_at   TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX users_name ON users (lower(name));

CREATE TABLE api_tokens (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  hash         BLOB NOT NULL,
  expires_at   TIMESTAMP,
  revoked_at   TIMESTAMP,
  last_used_at TIMESTAMP,
  created_at   TIMESTAMP NOT NULL
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE stores (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  kind       TEXT NOT NULL,
  settings   TEXT NOT NULL DEFAULT '{}',
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX stores_name ON stores (lower(name));

CREATE TABLE builtin_secrets (
  name        TEXT NOT NULL,
  version     INTEGER NOT NULL,
  key_id      TEXT NOT NULL,
  wrapped_key BLOB NOT NULL,
  ciphertext  BLOB NOT NULL,
  created_at  TIMESTAMP NOT NULL,
  PRIMARY KEY (name, version)
);

-- The last version a deleted secret had, so that a secret written again
-- under the same name continues the numbering: a reference pinned to an old
-- version never silently reaches a new value.
CREATE TABLE builtin_deleted (
  name         TEXT PRIMARY KEY,
  last_version INTEGER NOT NULL
);

CREATE TABLE environment_variables (
  id           TEXT PRIMARY KEY,
  schema_name  TEXT NOT NULL,
  display_name TEXT NOT NULL,
  description  TEXT NOT NULL DEFAULT '',
  type         TEXT NOT NULL CHECK (type IN ('text', 'secret')),
  value        TEXT,
  store_id     TEXT REFERENCES stores (id),
  secret_ref   TEXT,
  owner_id     TEXT NOT NULL REFERENCES users (id),
  created_at   TIMESTAMP NOT NULL,
  updated_at   TIMESTAMP NOT NULL,
  CHECK ((type = 'text' AND value IS NOT NULL AND store_id IS NULL AND secret_ref IS NULL)
      OR (type = 'secret' AND value IS NULL AND store_id IS NOT NULL AND secret_ref IS NOT NULL))
);
CREATE UNIQUE INDEX environment_variables_schema_name ON environment_variables (lower(schema_name));

CREATE TABLE credentials (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL,
  description     TEXT NOT NULL DEFAULT '',
  username_var_id TEXT NOT NULL REFERENCES environment_variables (id) ON DELETE RESTRICT,
  password_var_id TEXT NOT NULL REFERENCES environment_variables (id) ON DELETE RESTRICT,
  owner_id        TEXT NOT NULL REFERENCES users (id),
  enabled         BOOLEAN NOT NULL DEFAULT TRUE,
  created_at      TIMESTAMP NOT NULL,
  updated_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX credentials_name ON credentials (lower(name));
CREATE INDEX credentials_username ON credentials (username_var_id);
CREATE INDEX credentials_password ON credentials (password_var_id);
