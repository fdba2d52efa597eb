-- A text variable may follow a property of a store's secret (a CyberArk
-- account's UserName) instead of holding a value: its value is then '' and
-- these name the store, the reference and the property. A store that such
-- a variable follows cannot be deleted, as one that a secret variable
-- references cannot.
ALTER TABLE environment_variables ADD COLUMN from_store_id TEXT REFERENCES stores (id);
ALTER TABLE environment_variables ADD COLUMN from_ref TEXT;
ALTER TABLE environment_variables ADD COLUMN from_field TEXT;
