-- The timeline's sequence per case is kept on the case: a step takes its number by
-- incrementing cases.event_seq (one UPDATE … RETURNING that also holds the case's row) instead
-- of reading MAX(seq) of the case's steps first.

-- +goose Up
ALTER TABLE cases ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;
UPDATE cases SET event_seq = (SELECT COALESCE(MAX(e.seq), 0) FROM case_events e WHERE e.case_id = cases.id);

-- +goose Down
ALTER TABLE cases DROP COLUMN event_seq;
