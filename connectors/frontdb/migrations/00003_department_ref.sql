-- The department's own number for the sub-case (受理号/办件号), which a result row may give
-- (the department_ref of a department event): NULL or empty when the row gives none.

-- +goose Up
ALTER TABLE {{.Result}} ADD COLUMN department_ref TEXT;

-- +goose Down
ALTER TABLE {{.Result}} DROP COLUMN department_ref;
