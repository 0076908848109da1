-- Several files of one material per case (the health certificates of every employee, say, up
-- to the catalogue's max_files): a material is unique per case, type and file_index, its place
-- among the files of its type. PostgreSQL variant: the constraint is changed in place. Keep
-- its effect identical to 00015_material_files.sqlite.sql.

-- +goose Up
ALTER TABLE case_materials ADD COLUMN file_index INTEGER NOT NULL DEFAULT 0;
ALTER TABLE case_materials DROP CONSTRAINT case_materials_case_id_type_key;
ALTER TABLE case_materials ADD CONSTRAINT case_materials_case_id_type_file_index_key UNIQUE (case_id, type, file_index);

-- +goose Down
DELETE FROM subcase_materials WHERE material_id IN (SELECT id FROM case_materials WHERE file_index > 0);
DELETE FROM case_materials WHERE file_index > 0;
ALTER TABLE case_materials DROP CONSTRAINT case_materials_case_id_type_file_index_key;
ALTER TABLE case_materials ADD CONSTRAINT case_materials_case_id_type_key UNIQUE (case_id, type);
ALTER TABLE case_materials DROP COLUMN file_index;
