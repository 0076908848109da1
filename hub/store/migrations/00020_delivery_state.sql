-- What became of each message to a department, as the case view shows it: a message being
-- retried keeps a row with outcome 'retrying', the attempts so far and when the next is due; a
-- message refused for good names its dead letter, so that operators go from the case to the
-- letter and replay it. Rows are read per sub-case.

-- +goose Up
ALTER TABLE deliveries ADD COLUMN next_attempt_at BIGINT;
ALTER TABLE deliveries ADD COLUMN dead_letter_id TEXT NOT NULL DEFAULT '';
CREATE INDEX deliveries_subcase ON deliveries (subcase_id);

-- +goose Down
DROP INDEX deliveries_subcase;
ALTER TABLE deliveries DROP COLUMN dead_letter_id;
ALTER TABLE deliveries DROP COLUMN next_attempt_at;
