-- How long a secret's new version took to reach a run: per secret, the last
-- change credflow learnt of (an event, a notification or a poll) and the
-- first runner resolve after it. Times are microseconds since the epoch;
-- reached_us is NULL until a resolve read the secret after the change.
CREATE TABLE secret_propagation (
    store      TEXT   NOT NULL,
    secret_key TEXT   NOT NULL, -- the secret's name, lower-cased
    secret     TEXT   NOT NULL, -- the secret's name as told
    changed_us BIGINT NOT NULL,
    source     TEXT   NOT NULL,
    reached_us BIGINT,
    version    TEXT   NOT NULL,
    runner     TEXT   NOT NULL,
    connection TEXT   NOT NULL,
    PRIMARY KEY (store, secret_key)
);
CREATE INDEX secret_propagation_changed ON secret_propagation (changed_us);
