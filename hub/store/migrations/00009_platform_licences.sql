-- E-licences a platform connector imports into the e-licence library (GET {licences_url}?cursor=…,
-- connectors/platform): where each platform's licence pull has got to, and what became of each
-- licence it offered. Times are BIGINT microseconds (store.Timestamp).

-- +goose Up

-- The cursor of a platform's licence pull: written only after every item of the page before it
-- is recorded (in platform_licences, and as a dead letter when it was rejected).
CREATE TABLE platform_licence_cursors (
    platform    TEXT   PRIMARY KEY,
    next_cursor TEXT   NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Each licence a platform offered, by its id there (licence_id), as last pulled: body_sha256 is
-- the SHA-256 of its document, so that the same document pulled again is skipped and a changed
-- one is taken again. state is 'imported' (into the library: library_id is licences.id),
-- 'known' (the library had it already) or 'rejected' (problems kept as paths and rules, never
-- values; the item is also a dead letter).
CREATE TABLE platform_licences (
    platform    TEXT   NOT NULL,
    licence_id  TEXT   NOT NULL,
    body_sha256 TEXT   NOT NULL,
    state       TEXT   NOT NULL,
    library_id  TEXT   NOT NULL DEFAULT '',
    problems    TEXT   NOT NULL DEFAULT '[]',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (platform, licence_id)
);

-- +goose Down
DROP TABLE platform_licences;
DROP TABLE platform_licence_cursors;
