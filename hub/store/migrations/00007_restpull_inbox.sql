-- The REST pull inbox (connectors/restpull): the sub-cases waiting for departments whose systems
-- cannot receive calls and poll the hub instead. The connector stores each consumed envelope
-- here (a repeat of the same envelope id is ignored); departments lease items for a visibility
-- timeout and acknowledge them. id is the envelope id; payload the envelope exactly as consumed
-- (it holds personal data); topic, partition_no, offset_no and msg_key locate it on the bus, for
-- its dead letter and replay, and order a case's items (one Kafka key, one partition).
-- lease_until is BIGINT microseconds (store.Timestamp), NULL while pending. Acknowledged rows
-- stay, so that a repeated ack is answered as the first was.

-- +goose Up
CREATE TABLE restpull_inbox (
    department   TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    case_id      TEXT    NOT NULL DEFAULT '',
    subcase_id   TEXT    NOT NULL DEFAULT '',
    payload      TEXT    NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'pending',
    lease        TEXT    NOT NULL DEFAULT '',
    lease_until  BIGINT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    topic        TEXT    NOT NULL DEFAULT '',
    partition_no INTEGER NOT NULL DEFAULT 0,
    offset_no    BIGINT  NOT NULL DEFAULT 0,
    msg_key      TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT  NOT NULL,
    acked_at     BIGINT,
    PRIMARY KEY (department, id),
    CHECK (state IN ('pending', 'leased', 'acked'))
);
CREATE INDEX restpull_inbox_ready ON restpull_inbox (department, state, created_at);
CREATE INDEX restpull_inbox_case ON restpull_inbox (department, case_id, partition_no, offset_no);

-- +goose Down
DROP INDEX restpull_inbox_case;
DROP INDEX restpull_inbox_ready;
DROP TABLE restpull_inbox;
