-- Indexes for lookups that scanned whole tables: a case's licences (every case view reads
-- them; the table keeps every licence ever issued), a sub-case's licences, and the sub-cases
-- a material is linked to (the case view joins from the case's materials).

-- +goose Up
CREATE INDEX licences_case ON licences (case_id);
CREATE INDEX licences_subcase ON licences (subcase_id);
CREATE INDEX subcase_materials_material ON subcase_materials (material_id);

-- +goose Down
DROP INDEX subcase_materials_material;
DROP INDEX licences_subcase;
DROP INDEX licences_case;
