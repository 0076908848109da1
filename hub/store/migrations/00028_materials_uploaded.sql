-- Material objects: a file a platform or department uploaded through /api/v1/uploads (tus),
-- finished, hashed and sniffed by the hub, whose bytes the blob store keeps under sha256. The
-- row says whose it is (owner: the client that uploaded it; holder: the applicant it belongs
-- to) so that a case may name it by id only when both match. expires_at is NULL until a
-- retention rule sets it; a material still referenced by a case is never removed.

-- +goose Up
CREATE TABLE materials_uploaded (
    id           TEXT   PRIMARY KEY,
    sha256       TEXT   NOT NULL,
    size         BIGINT NOT NULL,
    content_type TEXT   NOT NULL,
    filename     TEXT   NOT NULL,
    type         TEXT   NOT NULL,
    owner        TEXT   NOT NULL,
    holder       TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT
);
CREATE INDEX materials_uploaded_owner ON materials_uploaded (owner, created_at);
CREATE INDEX materials_uploaded_sha256 ON materials_uploaded (sha256);

-- +goose Down
DROP TABLE materials_uploaded;
