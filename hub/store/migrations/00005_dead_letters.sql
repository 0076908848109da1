-- Dead letters: messages a connector could not deliver for good (refused with a 4xx, given up,
-- undecodable), kept with their reason so operators can inspect and replay them.

-- +goose Up
CREATE TABLE dead_letters (
    id            TEXT    PRIMARY KEY,
    connector     TEXT    NOT NULL,
    department    TEXT    NOT NULL DEFAULT '',
    event_id      TEXT    NOT NULL DEFAULT '',
    case_id       TEXT    NOT NULL DEFAULT '',
    subcase_id    TEXT    NOT NULL DEFAULT '',
    topic         TEXT    NOT NULL,
    partition_no  INTEGER NOT NULL,
    offset_no     BIGINT  NOT NULL,
    msg_key       TEXT    NOT NULL DEFAULT '',
    payload       TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    status        INTEGER NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0,
    state         TEXT    NOT NULL DEFAULT 'dead',
    created_at    BIGINT  NOT NULL,
    replayed_at   BIGINT,
    replay_count  INTEGER NOT NULL DEFAULT 0,
    UNIQUE (connector, topic, partition_no, offset_no)
);
CREATE INDEX dead_letters_connector ON dead_letters (connector, state, created_at);

-- +goose Down
DROP TABLE dead_letters;
