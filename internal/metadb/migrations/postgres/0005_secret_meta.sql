-- What the store said of a secret variable's secret when it was last
-- checked: whether it is enabled and when it expires (NULL: no expiry).
ALTER TABLE environment_variables ADD COLUMN secret_enabled BOOLEAN;
ALTER TABLE environment_variables ADD COLUMN secret_expires_at TIMESTAMPTZ;
ALTER TABLE environment_variables ADD COLUMN secret_checked_at TIMESTAMPTZ;
