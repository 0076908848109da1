-- The material object (materials_uploaded, "mo_…") a case's material was given as, and the
-- content type the hub sniffed from its bytes: a case names an uploaded material by its id,
-- the bytes stay stored once under their sha256 however many cases link the object, and each
-- dispatched sub-case's message carries a link, signed for its department, to those bytes.
-- '' for a material given as a file on an allowed host or as an e-licence.

-- +goose Up
ALTER TABLE case_materials ADD COLUMN object_id TEXT NOT NULL DEFAULT '';
ALTER TABLE case_materials ADD COLUMN content_type TEXT NOT NULL DEFAULT '';
CREATE INDEX case_materials_object ON case_materials (object_id);

-- +goose Down
DROP INDEX case_materials_object;
ALTER TABLE case_materials DROP COLUMN content_type;
ALTER TABLE case_materials DROP COLUMN object_id;
