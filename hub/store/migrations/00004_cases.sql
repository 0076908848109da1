-- The case flow: a case (办件) is one bundle application; a sub-case (子件) is one matter at one
-- department. Times are BIGINT microseconds (store.Timestamp); JSON documents are TEXT.

-- +goose Up
CREATE TABLE cases (
    id                 TEXT    PRIMARY KEY,
    bundle_code        TEXT    NOT NULL,
    bundle_seq         INTEGER NOT NULL,
    applicant_type     TEXT    NOT NULL,
    holder_id          TEXT    NOT NULL DEFAULT '',
    holder_name        TEXT    NOT NULL DEFAULT '',
    state              TEXT    NOT NULL,
    outcome            TEXT    NOT NULL DEFAULT '',
    form               TEXT    NOT NULL,
    catalogue_version  TEXT    NOT NULL,
    submitted_at       BIGINT  NOT NULL,
    completed_at       BIGINT,
    due_promised       TEXT    NOT NULL DEFAULT '',
    due_statutory      TEXT    NOT NULL DEFAULT '',
    updated_at         BIGINT  NOT NULL
);
CREATE INDEX cases_holder ON cases (holder_id);
CREATE INDEX cases_state ON cases (state, submitted_at);

CREATE TABLE subcases (
    id              TEXT    PRIMARY KEY,
    case_id         TEXT    NOT NULL REFERENCES cases (id),
    position        INTEGER NOT NULL,
    matter_code     TEXT    NOT NULL,
    matter_name     TEXT    NOT NULL,
    department      TEXT    NOT NULL,
    optional        BOOLEAN NOT NULL,
    state           TEXT    NOT NULL,
    form            TEXT    NOT NULL DEFAULT '{}',
    prerequisites   TEXT    NOT NULL DEFAULT '[]',
    promised_days   INTEGER NOT NULL,
    statutory_days  INTEGER NOT NULL,
    clock_start     BIGINT,
    due_promised    TEXT    NOT NULL DEFAULT '',
    due_statutory   TEXT    NOT NULL DEFAULT '',
    dispatched_at   BIGINT,
    delivered_at    BIGINT,
    delivery_error  TEXT    NOT NULL DEFAULT '',
    decision_number TEXT    NOT NULL DEFAULT '',
    reason          TEXT    NOT NULL DEFAULT '',
    missing         TEXT    NOT NULL DEFAULT '[]',
    updated_at      BIGINT  NOT NULL,
    UNIQUE (case_id, matter_code)
);
CREATE INDEX subcases_department ON subcases (department, state);

-- Periods a sub-case's clock stood still: suspended (特别程序) or supplement (补正).
CREATE TABLE subcase_pauses (
    subcase_id TEXT   NOT NULL REFERENCES subcases (id),
    kind       TEXT   NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at   BIGINT,
    PRIMARY KEY (subcase_id, started_at)
);

-- Each material is stored once per case and referenced by every sub-case that needs it.
CREATE TABLE case_materials (
    id         TEXT   PRIMARY KEY,
    case_id    TEXT   NOT NULL REFERENCES cases (id),
    type       TEXT   NOT NULL,
    filename   TEXT   NOT NULL,
    sha256     TEXT   NOT NULL,
    size       BIGINT NOT NULL,
    uri        TEXT   NOT NULL,
    UNIQUE (case_id, type)
);

CREATE TABLE subcase_materials (
    subcase_id  TEXT NOT NULL REFERENCES subcases (id),
    material_id TEXT NOT NULL REFERENCES case_materials (id),
    PRIMARY KEY (subcase_id, material_id)
);

-- The case's timeline, in order.
CREATE TABLE case_events (
    case_id    TEXT    NOT NULL REFERENCES cases (id),
    seq        INTEGER NOT NULL,
    at         BIGINT  NOT NULL,
    subcase_id TEXT    NOT NULL DEFAULT '',
    type       TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (case_id, seq)
);

-- Events departments posted, by their own event id: a repeat gets the first answer.
CREATE TABLE department_events (
    subcase_id TEXT   NOT NULL REFERENCES subcases (id),
    event_id   TEXT   NOT NULL,
    type       TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    body       TEXT   NOT NULL,
    PRIMARY KEY (subcase_id, event_id)
);

-- Deliveries of dispatched sub-cases to department systems, by message id.
CREATE TABLE deliveries (
    event_id   TEXT    PRIMARY KEY,
    subcase_id TEXT    NOT NULL,
    department TEXT    NOT NULL,
    outcome    TEXT    NOT NULL,
    status     INTEGER NOT NULL,
    attempts   INTEGER NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    at         BIGINT  NOT NULL
);

-- E-licences (电子证照) issued through the hub.
CREATE TABLE licences (
    id             TEXT PRIMARY KEY,
    case_id        TEXT NOT NULL,
    subcase_id     TEXT NOT NULL,
    matter_code    TEXT NOT NULL,
    type           TEXT NOT NULL,
    type_code      TEXT NOT NULL DEFAULT '',
    number         TEXT NOT NULL,
    holder         TEXT NOT NULL,
    holder_id      TEXT NOT NULL,
    holder_id_type TEXT NOT NULL,
    issuer         TEXT NOT NULL,
    issuer_code    TEXT NOT NULL DEFAULT '',
    issued_at      TEXT NOT NULL,
    valid_from     TEXT NOT NULL,
    valid_until    TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL DEFAULT 'valid',
    file_sha256    TEXT NOT NULL,
    file_uri       TEXT NOT NULL,
    file_format    TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    UNIQUE (type, number)
);
CREATE INDEX licences_holder ON licences (holder_id);

-- Intake idempotency: the same key and body get the first answer again.
CREATE TABLE idempotency_keys (
    key          TEXT    PRIMARY KEY,
    request_hash TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    response     TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL
);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE licences;
DROP TABLE deliveries;
DROP TABLE department_events;
DROP TABLE case_events;
DROP TABLE subcase_materials;
DROP TABLE case_materials;
DROP TABLE subcase_pauses;
DROP TABLE subcases;
DROP TABLE cases;
