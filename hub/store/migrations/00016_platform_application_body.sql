-- Platform applications (connectors/platform): what the connector needs to take an application
-- again without the platform sending it again, and to tell a corrected application from a
-- repeated one.
-- body: the platform's document of an application the hub could not take in through its own
-- fault (state 'fault': a mapping or configuration fault); retried on every pull round, and
-- emptied once it is taken in or answered. Personal data, like the dead letter that holds it too.
-- body_sha256: the SHA-256 of the document last taken in, rejected or held (compact JSON), so
-- that the same app_id with another document after a rejection (退件) is taken as a new
-- submission, and the same document again stays a duplicate.
-- retaken: the number of times the application was taken as a new submission after a 退件.

-- +goose Up
ALTER TABLE platform_applications ADD COLUMN body TEXT NOT NULL DEFAULT '';
ALTER TABLE platform_applications ADD COLUMN body_sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE platform_applications ADD COLUMN retaken INTEGER NOT NULL DEFAULT 0;
CREATE INDEX platform_applications_state ON platform_applications (platform, state);

-- +goose Down
DROP INDEX platform_applications_state;
ALTER TABLE platform_applications DROP COLUMN retaken;
ALTER TABLE platform_applications DROP COLUMN body_sha256;
ALTER TABLE platform_applications DROP COLUMN body;
