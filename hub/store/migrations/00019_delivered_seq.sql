-- The timeline number that a sub-case's first delivery step takes, reserved when the sub-case is
-- dispatched (cases.event_seq counts it then), so that recording the delivery takes the
-- sub-case's row and never the case's. NULL: nothing reserved (dispatched before this
-- migration, or the number taken); such a step is numbered from the case's event_seq.

-- +goose Up
ALTER TABLE subcases ADD COLUMN delivered_seq INTEGER;

-- +goose Down
ALTER TABLE subcases DROP COLUMN delivered_seq;
