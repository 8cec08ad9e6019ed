-- Roles become rows: a users.role names one (a foreign key), so a new role
-- is an INSERT rather than a rebuilt table. The first new one is
-- tech_partner, a technology firm offering an online-teaching platform.
-- SQLite cannot change a CHECK, so users is rebuilt the documented way
-- (foreign keys off, in one transaction, checked before commit); this
-- migration therefore manages its own transaction (metadata.toml).
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE roles (
    name TEXT PRIMARY KEY NOT NULL
);
INSERT INTO roles (name) VALUES ('admin'), ('district_officer'), ('school_staff'), ('warehouse_officer'), ('donor'), ('telecom'), ('sync_client'), ('stats_reader'), ('tech_partner');

CREATE TABLE users_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    username        TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL REFERENCES roles (name),
    admin_unit_code TEXT REFERENCES admin_units (code),
    school_id       BIGINT REFERENCES schools (id),
    disabled        BOOLEAN NOT NULL DEFAULT 0,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    operator_id     BIGINT REFERENCES operators (id),
    token_version   BIGINT NOT NULL DEFAULT 1,
    CHECK ((role = 'district_officer') = (admin_unit_code IS NOT NULL)),
    CHECK ((role = 'school_staff') = (school_id IS NOT NULL))
);
INSERT INTO users_new (id, username, password_hash, role, admin_unit_code, school_id, disabled, created_at, updated_at, operator_id, token_version)
    SELECT id, username, password_hash, role, admin_unit_code, school_id, disabled, created_at, updated_at, operator_id, token_version FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

-- Online-teaching platforms (part 4 of the plan): a technology partner
-- offers a platform free, at a discount or at a price per student; the
-- Department reviews it (proposed → under_review → recommended |
-- not_recommended, withdrawn by either side), each move an event with its
-- reason. Schools record the recommended platforms they use, with how many
-- students.
CREATE TABLE platform_offers (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    submitted_by          BIGINT NOT NULL REFERENCES users (id),
    provider              TEXT NOT NULL,
    product               TEXT NOT NULL,
    kind                  TEXT NOT NULL CHECK (kind IN ('video_classes', 'lms', 'content', 'tools')),
    description           TEXT NOT NULL,
    website               TEXT,
    pricing               TEXT NOT NULL CHECK (pricing IN ('free', 'discount', 'per_student')),
    discount_percent      INTEGER CHECK (discount_percent BETWEEN 1 AND 99),
    price_per_student_vnd BIGINT CHECK (price_per_student_vnd >= 0),
    available_from        DATE NOT NULL,
    available_until       DATE,
    conditions            TEXT,
    levels                TEXT NOT NULL,
    grade_from            INTEGER NOT NULL CHECK (grade_from BETWEEN 1 AND 12),
    grade_to              INTEGER NOT NULL CHECK (grade_to BETWEEN 1 AND 12),
    data_residency        TEXT,
    child_safety          TEXT,
    status                TEXT NOT NULL CHECK (status IN ('proposed', 'under_review', 'recommended', 'not_recommended', 'withdrawn')),
    status_reason         TEXT,
    version               BIGINT NOT NULL DEFAULT 1,
    created_at            TIMESTAMP NOT NULL,
    updated_at            TIMESTAMP NOT NULL,
    CHECK ((pricing = 'discount') = (discount_percent IS NOT NULL)),
    CHECK ((pricing = 'per_student') = (price_per_student_vnd IS NOT NULL)),
    CHECK (grade_from <= grade_to)
);
CREATE INDEX platform_offers_submitter_idx ON platform_offers (submitted_by);
CREATE INDEX platform_offers_status_idx ON platform_offers (status);

CREATE TABLE platform_offer_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    offer_id    BIGINT NOT NULL REFERENCES platform_offers (id),
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT,
    at          TIMESTAMP NOT NULL
);
CREATE INDEX platform_offer_events_offer_idx ON platform_offer_events (offer_id);

CREATE TABLE platform_adoptions (
    school_id     BIGINT NOT NULL REFERENCES schools (id),
    offer_id      BIGINT NOT NULL REFERENCES platform_offers (id),
    student_count INTEGER NOT NULL CHECK (student_count > 0),
    started_on    DATE NOT NULL,
    recorded_by   TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (school_id, offer_id)
);
CREATE INDEX platform_adoptions_offer_idx ON platform_adoptions (offer_id);
COMMIT;
PRAGMA foreign_keys = ON;
