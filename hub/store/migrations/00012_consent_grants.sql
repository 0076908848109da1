-- Consents become grants: bound to the platform (API client) that obtained them, good for a
-- counted number of uses, withdrawable, and naming the holder by a keyed pseudonym
-- ("k1:" and HMAC-SHA256 under the hub's key, package pseudonym) instead of a bare SHA-256.
--
-- The consents of 00006 are dropped with their table: they name no platform, their holder
-- hashes are unkeyed, and each lived at most 24 hours, so the applicant is asked again.
-- Times are BIGINT microseconds (store.Timestamp). The same statements serve SQLite and
-- PostgreSQL.

-- +goose Up
DROP TABLE consents;

CREATE TABLE consents (
    id           TEXT    PRIMARY KEY,          -- shown to the platform for withdrawing: the first 16 hex digits of token_hash
    token_hash   TEXT    NOT NULL UNIQUE,      -- SHA-256 of the token; the token itself is never stored
    holder_ref   TEXT    NOT NULL,             -- the holder's keyed pseudonym, naming its key
    purpose      TEXT    NOT NULL,
    bundle_code  TEXT    NOT NULL,
    client       TEXT    NOT NULL,             -- the API client that obtained it ('' when the API does not authenticate)
    max_uses     INTEGER NOT NULL,
    uses         INTEGER NOT NULL DEFAULT 0,   -- counted by one conditional UPDATE per use: never above max_uses
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    withdrawn_at BIGINT,
    CHECK (uses >= 0 AND uses <= max_uses)
);

-- +goose Down
DROP TABLE consents;

CREATE TABLE consents (
    token_hash  TEXT   PRIMARY KEY,
    holder_ref  TEXT   NOT NULL,
    purpose     TEXT   NOT NULL,
    bundle_code TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
