-- Case numbers (办件编号) and the departments' own numbers (受理号/办件号).
--
-- cases.number is the human-readable number given at intake (hub/cases/number.go: division,
-- date, bundle, daily sequence, check character); '' for cases submitted before it. Its daily
-- sequence comes from case_number_days, one row a day (China), raised in the intake's
-- transaction so that two intakes at once never share a number; the unique index is the last
-- guard.
--
-- subcases.department_ref is the department's own number for its sub-case, as its first event
-- that gave one said; '' until then.

-- +goose Up
ALTER TABLE cases ADD COLUMN number TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX cases_number ON cases (number) WHERE number <> '';
CREATE TABLE case_number_days (
    day      TEXT    PRIMARY KEY,
    last_seq INTEGER NOT NULL
);
ALTER TABLE subcases ADD COLUMN department_ref TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE subcases DROP COLUMN department_ref;
DROP TABLE case_number_days;
DROP INDEX cases_number;
ALTER TABLE cases DROP COLUMN number;
