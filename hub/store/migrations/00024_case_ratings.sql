-- 好差评 ("一事一评", 国办发〔2019〕51号): once a case is completed, the applicant rates it once per
-- department that handled one of its matters, with one of the five national levels. The two
-- lowest levels are 差评: such a rating needs rectification (整改) and stays open until the
-- department records its response. The comment is the applicant's own words (length-limited,
-- no control characters); the audit log and the timeline hold the level, never the comment.

-- +goose Up
CREATE TABLE case_ratings (
    id            TEXT    PRIMARY KEY,
    case_id       TEXT    NOT NULL REFERENCES cases (id),
    department    TEXT    NOT NULL,
    level         TEXT    NOT NULL,
    comment       TEXT    NOT NULL DEFAULT '',
    rated_by      TEXT    NOT NULL DEFAULT '',
    rated_at      BIGINT  NOT NULL,
    rectification BOOLEAN NOT NULL,
    response      TEXT    NOT NULL DEFAULT '',
    responded_by  TEXT    NOT NULL DEFAULT '',
    responded_at  BIGINT,
    UNIQUE (case_id, department)
);
CREATE INDEX case_ratings_department ON case_ratings (department, rated_at);
CREATE INDEX case_ratings_rated ON case_ratings (rated_at);

-- +goose Down
DROP TABLE case_ratings;
