-- Several files of one material per case (the health certificates of every employee, say, up
-- to the catalogue's max_files): a material is unique per case, type and file_index, its place
-- among the files of its type. SQLite variant: SQLite cannot drop a table constraint, so the
-- table is rebuilt, and with it subcase_materials, whose foreign key names it (dropping a
-- parent table with children fails while foreign keys are on, and goose runs this in a
-- transaction, where they cannot be turned off). Renaming case_materials_new rewrites the
-- foreign key of subcase_materials_new to the final name. Keep its effect identical to
-- 00015_material_files.postgres.sql.

-- +goose Up
CREATE TABLE case_materials_new (
    id                  TEXT    PRIMARY KEY,
    case_id             TEXT    NOT NULL REFERENCES cases (id),
    type                TEXT    NOT NULL,
    filename            TEXT    NOT NULL,
    sha256              TEXT    NOT NULL,
    size                BIGINT  NOT NULL,
    uri                 TEXT    NOT NULL,
    licence_id          TEXT    NOT NULL DEFAULT '',
    licence_type        TEXT    NOT NULL DEFAULT '',
    licence_number      TEXT    NOT NULL DEFAULT '',
    licence_verified_at BIGINT,
    file_index          INTEGER NOT NULL DEFAULT 0,
    UNIQUE (case_id, type, file_index)
);
INSERT INTO case_materials_new (id, case_id, type, filename, sha256, size, uri, licence_id, licence_type, licence_number, licence_verified_at)
    SELECT id, case_id, type, filename, sha256, size, uri, licence_id, licence_type, licence_number, licence_verified_at FROM case_materials;
CREATE TABLE subcase_materials_new (
    subcase_id  TEXT NOT NULL REFERENCES subcases (id),
    material_id TEXT NOT NULL REFERENCES case_materials_new (id),
    PRIMARY KEY (subcase_id, material_id)
);
INSERT INTO subcase_materials_new (subcase_id, material_id) SELECT subcase_id, material_id FROM subcase_materials;
DROP TABLE subcase_materials;
DROP TABLE case_materials;
ALTER TABLE case_materials_new RENAME TO case_materials;
ALTER TABLE subcase_materials_new RENAME TO subcase_materials;
CREATE INDEX subcase_materials_material ON subcase_materials (material_id);

-- +goose Down
CREATE TABLE case_materials_old (
    id                  TEXT    PRIMARY KEY,
    case_id             TEXT    NOT NULL REFERENCES cases (id),
    type                TEXT    NOT NULL,
    filename            TEXT    NOT NULL,
    sha256              TEXT    NOT NULL,
    size                BIGINT  NOT NULL,
    uri                 TEXT    NOT NULL,
    licence_id          TEXT    NOT NULL DEFAULT '',
    licence_type        TEXT    NOT NULL DEFAULT '',
    licence_number      TEXT    NOT NULL DEFAULT '',
    licence_verified_at BIGINT,
    UNIQUE (case_id, type)
);
INSERT INTO case_materials_old (id, case_id, type, filename, sha256, size, uri, licence_id, licence_type, licence_number, licence_verified_at)
    SELECT id, case_id, type, filename, sha256, size, uri, licence_id, licence_type, licence_number, licence_verified_at FROM case_materials WHERE file_index = 0;
CREATE TABLE subcase_materials_old (
    subcase_id  TEXT NOT NULL REFERENCES subcases (id),
    material_id TEXT NOT NULL REFERENCES case_materials_old (id),
    PRIMARY KEY (subcase_id, material_id)
);
INSERT INTO subcase_materials_old (subcase_id, material_id)
    SELECT subcase_id, material_id FROM subcase_materials WHERE material_id IN (SELECT id FROM case_materials_old);
DROP TABLE subcase_materials;
DROP TABLE case_materials;
ALTER TABLE case_materials_old RENAME TO case_materials;
ALTER TABLE subcase_materials_old RENAME TO subcase_materials;
CREATE INDEX subcase_materials_material ON subcase_materials (material_id);
