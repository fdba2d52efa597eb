CREATE TABLE runner_groups (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX runner_groups_name ON runner_groups (lower(name));

-- A runner (a user with the runner role) belongs to one runner group.
ALTER TABLE users ADD COLUMN runner_group_id TEXT REFERENCES runner_groups (id);

CREATE TABLE connections (
  id                  TEXT PRIMARY KEY,
  name                TEXT NOT NULL,
  -- NULL once the credential was deleted with force: the connection is broken.
  credential_id       TEXT REFERENCES credentials (id),
  runner_group_id     TEXT NOT NULL REFERENCES runner_groups (id),
  owner_id            TEXT NOT NULL REFERENCES users (id),
  status              TEXT NOT NULL DEFAULT 'unknown',
  last_error          TEXT NOT NULL DEFAULT '',
  last_error_at       TIMESTAMPTZ,
  last_resolved_at    TIMESTAMPTZ,
  last_secret_version TEXT NOT NULL DEFAULT '',
  created_at          TIMESTAMPTZ NOT NULL,
  updated_at          TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX connections_name ON connections (lower(name));
CREATE INDEX connections_credential ON connections (credential_id);

-- Which secret version each runner last received for each connection.
CREATE TABLE connection_runners (
  connection_id  TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
  runner_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  secret_version TEXT NOT NULL,
  resolved_at    TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (connection_id, runner_id)
);
