-- The audit chain's times never go back along its sequence numbers (each
-- append takes the later of now and the previous record's time), so a
-- filter by time is answered with a few point reads that find the
-- sequence range (a binary search over seq), not an index on time. The
-- index cost every group commit of resolve records a page.
DROP INDEX audit_log_at;
