-- The unit each sub-case's limits are counted in, as the catalogue's rule states it: working
-- (工作日) or calendar (日, ending on the next working day when the last day is off); the
-- statutory one is none where no rule sets the authority a limit (no statutory deadline, only
-- the promised one). Sub-cases submitted before were all counted in working days.

-- +goose Up
ALTER TABLE subcases ADD COLUMN promised_unit TEXT NOT NULL DEFAULT 'working';
ALTER TABLE subcases ADD COLUMN statutory_unit TEXT NOT NULL DEFAULT 'working';

-- +goose Down
ALTER TABLE subcases DROP COLUMN statutory_unit;
ALTER TABLE subcases DROP COLUMN promised_unit;
