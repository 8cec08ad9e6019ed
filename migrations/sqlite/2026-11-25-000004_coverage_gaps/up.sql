-- Telecom operators, and the places without mobile internet assigned to
-- them ("cover 100% of places without mobile internet").
CREATE TABLE operators (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    code       TEXT NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 32),
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at TIMESTAMP NOT NULL
);

-- Telecom users work for one operator.
ALTER TABLE users ADD COLUMN operator_id BIGINT REFERENCES operators (id);

CREATE TABLE coverage_gaps (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    admin_unit_code   TEXT NOT NULL REFERENCES admin_units (code),
    place_name        TEXT NOT NULL CHECK (length(place_name) BETWEEN 1 AND 200),
    latitude          DOUBLE PRECISION CHECK (latitude BETWEEN -90 AND 90),
    longitude         DOUBLE PRECISION CHECK (longitude BETWEEN -180 AND 180),
    -- JSON array of school ids the gap cuts off
    school_ids        TEXT NOT NULL DEFAULT '[]',
    students_affected INTEGER NOT NULL DEFAULT 0 CHECK (students_affected >= 0),
    operator_id       BIGINT REFERENCES operators (id),
    status            TEXT NOT NULL CHECK (status IN ('open', 'planned', 'in_progress', 'covered', 'confirmed')),
    planned_for       DATE,
    started_on        DATE,
    covered_on        DATE,
    confirmed_by      TEXT,
    note              TEXT,
    version           BIGINT NOT NULL DEFAULT 1,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX coverage_gaps_operator_idx ON coverage_gaps (operator_id, status, id);
CREATE INDEX coverage_gaps_unit_idx ON coverage_gaps (admin_unit_code, status, id);
