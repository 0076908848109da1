-- Besides dispatched sub-cases, the hub hands the department the applicant's answer to its
-- supplement request (cn.yjshub.subcase.resubmitted: materials_json holds the new materials,
-- form_json the form mapped again) and withdrawals (cn.yjshub.subcase.withdrawn: empty form
-- and materials). event_type is the envelope's CloudEvents type; rows from before it are
-- dispatched sub-cases.

-- +goose Up
ALTER TABLE {{.Subcase}} ADD COLUMN event_type TEXT NOT NULL DEFAULT 'cn.yjshub.subcase.dispatched';

-- +goose Down
ALTER TABLE {{.Subcase}} DROP COLUMN event_type;
