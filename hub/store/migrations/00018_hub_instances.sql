-- The hub instances sharing this database, each with the URL departments call back. Every
-- instance must give the same one (--public-url, a load balancer in front of them all): a
-- sub-case's callback URL is fixed when it is dispatched, and must reach whichever instance is
-- alive when the department calls. An instance refreshes seen_at while it runs and deletes its
-- row when it stops; a row not refreshed for a while is a killed instance's.

-- +goose Up
CREATE TABLE hub_instances (
    id          TEXT PRIMARY KEY,
    public_url  TEXT NOT NULL,
    host        TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    seen_at     BIGINT NOT NULL
);

-- +goose Down
DROP TABLE hub_instances;
