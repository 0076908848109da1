-- Every catalogue the hub has loaded, keyed by the sha256 of its canonical
-- form. loaded_at is BIGINT microseconds since the Unix epoch (UTC), the
-- portable timestamp representation used by every table (see store.Timestamp).

-- +goose Up
CREATE TABLE catalogue_versions (
    version     TEXT    NOT NULL PRIMARY KEY,
    loaded_at   BIGINT  NOT NULL,
    bundles     INTEGER NOT NULL,
    matters     INTEGER NOT NULL,
    departments INTEGER NOT NULL
);

CREATE INDEX catalogue_versions_loaded_at ON catalogue_versions (loaded_at);

-- +goose Down
DROP TABLE catalogue_versions;
