-- Platform connectors (江苏政务服务网 "一件事", 连云港市政务服务一体化平台) and the supervision
-- connector (互联网+监管): where each platform's pull has got to, which platform application
-- became which case, and which documents each connector has pushed. Times are BIGINT
-- microseconds (store.Timestamp).

-- +goose Up

-- The cursor of a platform's pull (GET {pull_url}?cursor=…): written only after every item of
-- the page before it is stored in platform_applications.
CREATE TABLE platform_cursors (
    platform    TEXT   PRIMARY KEY,
    next_cursor TEXT   NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Each application pulled from a platform, once: the case it became (state 'submitted'), or
-- 'rejected' (validation problems, kept as paths and rules, never values, and reported back to
-- the platform as 退件) or 'conflict' (the same app_id came again with another body).
-- reported: 0 = the rejection is still to be pushed to the platform, 1 = pushed or nothing to
-- push, -1 = the platform refused the report.
CREATE TABLE platform_applications (
    platform     TEXT   NOT NULL,
    app_id       TEXT   NOT NULL,
    case_id      TEXT   NOT NULL DEFAULT '',
    state        TEXT   NOT NULL,
    problems     TEXT   NOT NULL DEFAULT '[]',
    reported     INTEGER NOT NULL DEFAULT 1,
    submitted_at BIGINT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (platform, app_id)
);
CREATE INDEX platform_applications_case ON platform_applications (case_id, platform);
CREATE INDEX platform_applications_unreported ON platform_applications (platform, reported);

-- Documents a connector that follows yjs.case.event pushed (progress, results and e-licences to
-- a platform; supervision records), by the Idempotency-Key they were pushed with: 'pushed', or
-- 'refused' (a 4xx, or given up; the case event is a dead letter and its replay tries again).
CREATE TABLE connector_pushes (
    connector  TEXT    NOT NULL,
    push_key   TEXT    NOT NULL,
    case_id    TEXT    NOT NULL,
    step       TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    status     INTEGER NOT NULL DEFAULT 0,
    attempts   INTEGER NOT NULL DEFAULT 0,
    reason     TEXT    NOT NULL DEFAULT '',
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (connector, push_key)
);
CREATE INDEX connector_pushes_case ON connector_pushes (case_id);

-- +goose Down
DROP INDEX connector_pushes_case;
DROP TABLE connector_pushes;
DROP INDEX platform_applications_unreported;
DROP INDEX platform_applications_case;
DROP TABLE platform_applications;
DROP TABLE platform_cursors;
