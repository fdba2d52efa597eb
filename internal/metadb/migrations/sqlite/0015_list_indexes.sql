-- The first page of a list stays a few index reads at any size. A viewer's
-- visible objects are one range per principal, in object id order, read
-- from the index alone (it replaces shares_principal, its prefix); a
-- maker's own connections are one range of their owner's.
CREATE INDEX shares_visible ON shares (principal_kind, principal_id, object_kind, object_id, expires_at);
DROP INDEX shares_principal;
CREATE INDEX connections_owner ON connections (owner_id, id);
