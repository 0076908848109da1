-- The W3C trace context of each case's intake (traceparent, "00-<trace id>-<span id>-<flags>"):
-- the case view shows its trace id; the sub-cases dispatched later and the department events
-- that come back without a trace context of their own join that trace. '' for cases submitted
-- before tracing. The outbox carries each message's trace context in its headers column
-- already.

-- +goose Up
ALTER TABLE cases ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE cases DROP COLUMN traceparent;
