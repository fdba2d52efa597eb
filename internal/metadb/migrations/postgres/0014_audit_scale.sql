-- The audit list filtered by resource or by actor walks these newest (or
-- oldest) first and stops at the page's end, instead of reading the whole
-- log. The actor filter ignores case.
CREATE INDEX audit_log_resource ON audit_log (resource, seq);
CREATE INDEX audit_log_actor ON audit_log (lower(actor), seq);
