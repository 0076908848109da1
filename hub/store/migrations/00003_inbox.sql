-- Event ids each consumer has already applied. A row is written in the same
-- transaction as the consumer's effect, so a redelivered event is recognised
-- and skipped.

-- +goose Up
CREATE TABLE inbox (
    consumer     TEXT   NOT NULL,
    event_id     TEXT   NOT NULL,
    processed_at BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);

-- +goose Down
DROP TABLE inbox;
