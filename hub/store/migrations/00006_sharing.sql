-- Shared data (免填免交): the e-licence library, e-licences given as materials, the applicant's
-- consents, and the hash-chained audit log of every share of personal data.
-- Times are BIGINT microseconds (store.Timestamp); JSON documents are TEXT.

-- +goose Up

-- The e-licence library is the licences table of 00004: licences issued through the hub keep
-- their case and sub-case; licences a platform connector imports have source 'import', the
-- connector's name as origin and empty case_id and subcase_id (the columns take '' already).
-- department is the issuing department's code: the one that may revoke the licence.
ALTER TABLE licences ADD COLUMN source TEXT NOT NULL DEFAULT 'hub';
ALTER TABLE licences ADD COLUMN origin TEXT NOT NULL DEFAULT '';
ALTER TABLE licences ADD COLUMN department TEXT NOT NULL DEFAULT '';
ALTER TABLE licences ADD COLUMN file_size BIGINT NOT NULL DEFAULT 0;
ALTER TABLE licences ADD COLUMN revoked_at BIGINT;
ALTER TABLE licences ADD COLUMN revoked_reason TEXT NOT NULL DEFAULT '';
UPDATE licences SET department = (SELECT s.department FROM subcases s WHERE s.id = licences.subcase_id)
    WHERE subcase_id <> '' AND EXISTS (SELECT 1 FROM subcases s WHERE s.id = licences.subcase_id);
CREATE INDEX licences_holder_type ON licences (holder_id, type, status);

-- Events the issuing department posted about a licence (revocation), by its own event id: a
-- repeat gets the first answer.
CREATE TABLE licence_events (
    licence_id TEXT   NOT NULL REFERENCES licences (id),
    event_id   TEXT   NOT NULL,
    type       TEXT   NOT NULL,
    department TEXT   NOT NULL,
    reason     TEXT   NOT NULL DEFAULT '',
    at         BIGINT NOT NULL,
    PRIMARY KEY (licence_id, event_id)
);

-- A material given as a reference to an e-licence of the library instead of an upload: the
-- licence and when intake verified it (filename, sha256, uri are the licence file's).
ALTER TABLE case_materials ADD COLUMN licence_id TEXT NOT NULL DEFAULT '';
ALTER TABLE case_materials ADD COLUMN licence_type TEXT NOT NULL DEFAULT '';
ALTER TABLE case_materials ADD COLUMN licence_number TEXT NOT NULL DEFAULT '';
ALTER TABLE case_materials ADD COLUMN licence_verified_at BIGINT;

-- The applicant's consents to share their data for a purpose and a bundle. Only the SHA-256 of
-- the token and of the holder's identifier are kept: the table holds no token and no ID number.
CREATE TABLE consents (
    token_hash  TEXT   PRIMARY KEY,
    holder_ref  TEXT   NOT NULL,
    purpose     TEXT   NOT NULL,
    bundle_code TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- The audit log: append-only, each row chained to the one before by hash =
-- SHA-256(prev_hash || the row's content). audit_head holds the chain's last seq and hash, and
-- its one row is locked while a row is appended, so appends from many hub instances queue.
CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    kind       TEXT   NOT NULL,
    outcome    TEXT   NOT NULL,
    subject    TEXT   NOT NULL DEFAULT '',
    detail     TEXT   NOT NULL,
    prev_hash  TEXT   NOT NULL,
    hash       TEXT   NOT NULL
);
CREATE INDEX audit_log_kind ON audit_log (kind, subject);

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY,
    seq  BIGINT  NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

-- +goose Down
DROP TABLE audit_head;
DROP INDEX audit_log_kind;
DROP TABLE audit_log;
DROP TABLE consents;
ALTER TABLE case_materials DROP COLUMN licence_verified_at;
ALTER TABLE case_materials DROP COLUMN licence_number;
ALTER TABLE case_materials DROP COLUMN licence_type;
ALTER TABLE case_materials DROP COLUMN licence_id;
DROP TABLE licence_events;
DROP INDEX licences_holder_type;
ALTER TABLE licences DROP COLUMN revoked_reason;
ALTER TABLE licences DROP COLUMN revoked_at;
ALTER TABLE licences DROP COLUMN file_size;
ALTER TABLE licences DROP COLUMN department;
ALTER TABLE licences DROP COLUMN origin;
ALTER TABLE licences DROP COLUMN source;
