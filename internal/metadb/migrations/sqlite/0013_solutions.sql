-- Solutions: named, versioned sets of variables and credentials that move
-- between instances as packages. A component is one variable or one
-- credential; a required one lives in another solution and is only named
-- by the package. A deleted object leaves the solutions that held it.
CREATE TABLE solutions (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  version     TEXT NOT NULL,
  publisher   TEXT NOT NULL,
  owner_id    TEXT NOT NULL REFERENCES users (id),
  created_at  TIMESTAMP NOT NULL,
  updated_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX solutions_name ON solutions (lower(name));
CREATE INDEX solutions_owner ON solutions (owner_id);

CREATE TABLE solution_components (
  solution_id   TEXT NOT NULL REFERENCES solutions (id) ON DELETE CASCADE,
  variable_id   TEXT REFERENCES environment_variables (id) ON DELETE CASCADE,
  credential_id TEXT REFERENCES credentials (id) ON DELETE CASCADE,
  required      BOOLEAN NOT NULL DEFAULT FALSE,
  CHECK ((variable_id IS NULL) <> (credential_id IS NULL))
);
CREATE UNIQUE INDEX solution_components_variable ON solution_components (solution_id, variable_id);
CREATE UNIQUE INDEX solution_components_credential ON solution_components (solution_id, credential_id);
CREATE INDEX solution_components_by_variable ON solution_components (variable_id);
CREATE INDEX solution_components_by_credential ON solution_components (credential_id);
