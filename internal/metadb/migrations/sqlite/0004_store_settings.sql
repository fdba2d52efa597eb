-- How long a store's values are cached at run time, and how long the last
-- good value may be served while the store fails (milliseconds; 0: never).
ALTER TABLE stores ADD COLUMN cache_ttl_ms INTEGER NOT NULL DEFAULT 60000;
ALTER TABLE stores ADD COLUMN stale_if_error_ms INTEGER NOT NULL DEFAULT 0;
