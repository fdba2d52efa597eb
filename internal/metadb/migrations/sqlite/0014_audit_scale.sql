-- The audit list filtered by resource or by actor walks these newest (or
-- oldest) first and stops at the page's end, instead of reading the whole
-- log. Every index ends in the rowid, which is seq, so the records of one
-- resource or actor are in sequence order. The actor filter ignores case.
CREATE INDEX audit_log_resource ON audit_log (resource);
CREATE INDEX audit_log_actor ON audit_log (lower(actor));
