-- What the store announced of a secret variable's secret's expiry (a Key
-- Vault SecretNearExpiry or SecretExpired event): '', 'expiring' or
-- 'expired'. Cleared when the secret gets a new version.
ALTER TABLE environment_variables ADD COLUMN secret_notice TEXT NOT NULL DEFAULT '';

-- How often the versions of the store's referenced secrets are polled for
-- changes nobody announced (0: never).
ALTER TABLE stores ADD COLUMN poll_interval_ms BIGINT NOT NULL DEFAULT 300000;
