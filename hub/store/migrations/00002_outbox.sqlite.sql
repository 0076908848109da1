-- The transactional outbox (SQLite variant). It differs from the PostgreSQL
-- variant only in how id is generated: the two databases share no syntax for a
-- database-assigned integer key, and the relay needs one to publish in insertion
-- order. AUTOINCREMENT keeps ids of deleted rows from being reused. Keep every
-- other line identical to 00002_outbox.postgres.sql.

-- +goose Up
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT    NOT NULL UNIQUE,
    topic        TEXT    NOT NULL,
    msg_key      TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    headers      TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    published_at BIGINT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
);

CREATE INDEX outbox_pending ON outbox (id) WHERE published_at IS NULL;

-- +goose Down
DROP TABLE outbox;
