-- A case belongs to the client that submitted it: the API client's name, or the platform
-- connector's. Cases from before owners were recorded, and those of a hub that does not
-- authenticate, have none ('').

-- +goose Up
ALTER TABLE cases ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX cases_owner ON cases (owner, submitted_at);

-- +goose Down
DROP INDEX cases_owner;
ALTER TABLE cases DROP COLUMN owner;
