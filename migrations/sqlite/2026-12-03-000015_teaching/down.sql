PRAGMA foreign_keys = OFF;
BEGIN;
DROP TABLE platform_adoptions;
DROP TABLE platform_offer_events;
DROP TABLE platform_offers;
DELETE FROM users WHERE role = 'tech_partner';
CREATE TABLE users_old (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    username        TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'district_officer', 'school_staff', 'warehouse_officer', 'donor', 'telecom', 'sync_client', 'stats_reader')),
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
INSERT INTO users_old SELECT id, username, password_hash, role, admin_unit_code, school_id, disabled, created_at, updated_at, operator_id, token_version FROM users;
DROP TABLE users;
ALTER TABLE users_old RENAME TO users;
DROP TABLE roles;
COMMIT;
PRAGMA foreign_keys = ON;
