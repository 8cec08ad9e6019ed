-- Schools, keyed by their MOET code; any level of admin unit.
CREATE TABLE schools (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    moet_code           TEXT NOT NULL UNIQUE CHECK (length(moet_code) BETWEEN 1 AND 32),
    name                TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- lowercase name, for case-insensitive search on both backends
    name_search         TEXT NOT NULL,
    admin_unit_code     TEXT NOT NULL REFERENCES admin_units (code),
    level               TEXT NOT NULL CHECK (level IN ('primary', 'lower_secondary', 'upper_secondary', 'multi')),
    address             TEXT,
    contact             TEXT,
    has_mobile_coverage BOOLEAN NOT NULL DEFAULT 0,
    has_fixed_internet  BOOLEAN NOT NULL DEFAULT 0,
    active              BOOLEAN NOT NULL DEFAULT 1,
    version             BIGINT NOT NULL DEFAULT 1,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
CREATE INDEX schools_admin_unit_idx ON schools (admin_unit_code, id);

-- Students, as the education data system knows them (external_id).
-- active: present in the latest full roster; deleted: removed by an officer
-- (soft delete, the row and its changes stay).
CREATE TABLE students (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id         TEXT NOT NULL UNIQUE CHECK (length(external_id) BETWEEN 1 AND 64),
    school_id           BIGINT NOT NULL REFERENCES schools (id),
    grade               INTEGER NOT NULL CHECK (grade BETWEEN 1 AND 12),
    full_name           TEXT NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    birth_date          DATE NOT NULL,
    gender              TEXT NOT NULL CHECK (gender IN ('female', 'male', 'other')),
    household_status    TEXT NOT NULL CHECK (household_status IN ('poor', 'near_poor', 'other')),
    device_status       TEXT NOT NULL CHECK (device_status IN ('none', 'shared', 'inadequate', 'adequate')),
    connectivity_status TEXT NOT NULL CHECK (connectivity_status IN ('none', 'mobile_weak', 'mobile_ok', 'fixed')),
    active              BOOLEAN NOT NULL DEFAULT 1,
    deleted             BOOLEAN NOT NULL DEFAULT 0,
    last_seen_run       TEXT,
    version             BIGINT NOT NULL DEFAULT 1,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
CREATE INDEX students_school_idx ON students (school_id, id);

-- The change feed: one row per insert, update or delete of a student, in
-- commit order (seq is assigned under a lock held until commit).
-- student_id has no foreign key on purpose: it is always a row the same
-- transaction just wrote, students are never hard-deleted, and the check
-- would cost a trigger per change on every sync batch.
CREATE TABLE student_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    student_id BIGINT NOT NULL,
    operation  TEXT NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),
    version    BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    changed_at TIMESTAMP NOT NULL
);

-- Answers to writes sent with an Idempotency-Key, replayed on retry.
CREATE TABLE idempotency_keys (
    actor        TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL DEFAULT 0,
    response     TEXT NOT NULL DEFAULT '',
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (actor, idem_key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- School staff now point at a real school. SQLite cannot add a foreign key
-- to an existing table, so the table is rebuilt.
CREATE TABLE users_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    username        TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'district_officer', 'school_staff', 'warehouse_officer', 'donor', 'telecom', 'sync_client', 'stats_reader')),
    admin_unit_code TEXT REFERENCES admin_units (code),
    school_id       BIGINT REFERENCES schools (id),
    disabled        BOOLEAN NOT NULL DEFAULT 0,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    CHECK ((role = 'district_officer') = (admin_unit_code IS NOT NULL)),
    CHECK ((role = 'school_staff') = (school_id IS NOT NULL))
);
INSERT INTO users_new SELECT * FROM users WHERE school_id IS NULL;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
