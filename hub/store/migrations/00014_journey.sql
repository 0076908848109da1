-- The applicant's journey on a platform: its own application number, supplements (补正),
-- the applicant-facing timeline and the change feed a platform follows.
--
-- case_events doubles as the change feed: text is the step in words for the applicant (detail
-- stays the operators'), data the step's facts (受理时间, 受理部门, 承诺办结日期, what a
-- supplement request asks for …), and feed_seq the step's place in the feed. feed_seq is given
-- after the step's transaction committed (by the reader that first finds it unnumbered), so a
-- step committed late never lands behind a cursor already handed out.

-- +goose Up
ALTER TABLE cases ADD COLUMN external_ref TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX cases_external_ref ON cases (owner, external_ref) WHERE external_ref <> '';

ALTER TABLE subcases ADD COLUMN supplement_deadline TEXT NOT NULL DEFAULT '';

ALTER TABLE case_events ADD COLUMN text TEXT NOT NULL DEFAULT '';
ALTER TABLE case_events ADD COLUMN data TEXT NOT NULL DEFAULT '{}';
ALTER TABLE case_events ADD COLUMN feed_seq BIGINT;
CREATE UNIQUE INDEX case_events_feed ON case_events (feed_seq) WHERE feed_seq IS NOT NULL;
CREATE INDEX case_events_unsequenced ON case_events (at) WHERE feed_seq IS NULL;

-- What an applicant sent in answer to supplement requests: by the platform's supplement, the
-- sub-cases it answered, and the materials and fields it gave (body), with those it replaced.
CREATE TABLE case_supplements (
    id          TEXT   PRIMARY KEY,
    case_id     TEXT   NOT NULL REFERENCES cases (id),
    received_at BIGINT NOT NULL,
    subcases    TEXT   NOT NULL,
    body        TEXT   NOT NULL
);
CREATE INDEX case_supplements_case ON case_supplements (case_id, received_at);

-- +goose Down
DROP TABLE case_supplements;
DROP INDEX case_events_unsequenced;
DROP INDEX case_events_feed;
ALTER TABLE case_events DROP COLUMN feed_seq;
ALTER TABLE case_events DROP COLUMN data;
ALTER TABLE case_events DROP COLUMN text;
ALTER TABLE subcases DROP COLUMN supplement_deadline;
DROP INDEX cases_external_ref;
ALTER TABLE cases DROP COLUMN external_ref;
