-- Retention of material objects: removed_at is when the retention sweeper removed a material
-- object whose retention had ended (package retention). The row stays, for the audit trail
-- and so that a case's view can say when its material went; its blob is deleted once nothing
-- else (another live material object, a case still open, an e-licence) uses the same bytes.
-- expires_at (00028) holds the due time the sweeper computed: NULL while a case still open
-- names the object. The index finds the live objects the sweeper visits.

-- +goose Up
ALTER TABLE materials_uploaded ADD COLUMN removed_at BIGINT;
CREATE INDEX materials_uploaded_live ON materials_uploaded (removed_at, id);
CREATE INDEX licences_file_sha256 ON licences (file_sha256);
CREATE INDEX case_materials_sha256 ON case_materials (sha256);

-- +goose Down
DROP INDEX case_materials_sha256;
DROP INDEX licences_file_sha256;
DROP INDEX materials_uploaded_live;
ALTER TABLE materials_uploaded DROP COLUMN removed_at;
