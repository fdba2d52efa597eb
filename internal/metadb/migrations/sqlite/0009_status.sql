-- What the last read of a secret variable's secret said instead of its
-- value: '' (it was read), 'not_found', 'access_denied' or
-- 'secret_disabled'. The variable's status is derived from it and from
-- secret_enabled, secret_expires_at and secret_checked_at.
ALTER TABLE environment_variables ADD COLUMN secret_problem TEXT NOT NULL DEFAULT '';

-- The outcome of the store's last check: NULL when it was never checked,
-- else whether it passed, when, and the first failing step with its detail
-- and hint. A store whose last check failed is degraded.
ALTER TABLE stores ADD COLUMN check_ok BOOLEAN;
ALTER TABLE stores ADD COLUMN checked_at TIMESTAMP;
ALTER TABLE stores ADD COLUMN check_step TEXT NOT NULL DEFAULT '';
ALTER TABLE stores ADD COLUMN check_detail TEXT NOT NULL DEFAULT '';
ALTER TABLE stores ADD COLUMN check_hint TEXT NOT NULL DEFAULT '';
