-- The files of the materials the hub holds, for a department whose system reads its front-end
-- exchange database and cannot reach the hub's links (material_files: true in the connectors
-- file). One row per file, keyed by its SHA-256: the same file named by many sub-cases is kept
-- once, and a row's materials_json names each material's sha256, with which the department
-- finds its bytes here. The hub writes the file in the transaction that stages the sub-case, so
-- that a staged sub-case's files are always here. The table is created whether or not the
-- connector writes files; without material_files it stays empty.

-- +goose Up
CREATE TABLE {{.File}} (
    sha256       TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
{{- if .Postgres}}
    content      BYTEA NOT NULL,
{{- else}}
    content      BLOB NOT NULL,
{{- end}}
    created_at   TEXT NOT NULL
);

-- +goose Down
DROP TABLE {{.File}};
