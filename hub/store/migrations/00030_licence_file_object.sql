-- The material object (materials_uploaded.id, "mo_…") a department uploaded an e-licence's
-- file as, before the approval that issued it: the library serves the file through a link the
-- hub signs, where a licence given by uri only is served by nobody but its department. ''
-- for a licence given by uri, and for those recorded before.

-- +goose Up
ALTER TABLE licences ADD COLUMN file_object_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE licences DROP COLUMN file_object_id;
