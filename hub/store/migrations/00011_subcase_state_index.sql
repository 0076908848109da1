-- The deadline watch reads the open sub-cases of every department by state.

-- +goose Up
CREATE INDEX subcases_state ON subcases (state);

-- +goose Down
DROP INDEX subcases_state;
