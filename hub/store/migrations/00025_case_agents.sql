-- 帮办代办 (the plan's §三(七)): an application may name an agent acting for the applicant. kind
-- is assistance (帮办: the agent helps, the applicant signs) or proxy (代办: the agent acts
-- under the applicant's authorisation, whose scope and last valid day are kept here and whose
-- 授权委托书 is a material of the case). The agent's name, ID number and phone are personal
-- data, as the applicant's are. One agent per case at most.

-- +goose Up
CREATE TABLE case_agents (
    case_id      TEXT   PRIMARY KEY REFERENCES cases (id),
    kind         TEXT   NOT NULL,
    name         TEXT   NOT NULL,
    id_type      TEXT   NOT NULL,
    id_number    TEXT   NOT NULL,
    phone        TEXT   NOT NULL,
    organisation TEXT   NOT NULL DEFAULT '',
    scope        TEXT   NOT NULL DEFAULT '',
    valid_until  TEXT   NOT NULL DEFAULT '',
    submitted_at BIGINT NOT NULL
);
CREATE INDEX case_agents_submitted ON case_agents (submitted_at);

-- +goose Down
DROP TABLE case_agents;
