-- Administrative units (GSO codes). Two or three levels: since July 2025 a
-- commune may sit directly under its province.
CREATE TABLE admin_units (
    code        TEXT PRIMARY KEY NOT NULL CHECK (length(code) BETWEEN 1 AND 16),
    parent_code TEXT REFERENCES admin_units (code),
    level       TEXT NOT NULL CHECK (level IN ('province', 'district', 'commune')),
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    CHECK ((level = 'province') = (parent_code IS NULL))
);
CREATE INDEX admin_units_parent_idx ON admin_units (parent_code, code);
CREATE INDEX admin_units_level_idx ON admin_units (level, code);

-- People who log in. A district officer is scoped to an admin unit subtree,
-- school staff to one school (the schools table arrives later; its foreign
-- key is added then).
CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    username        TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'district_officer', 'school_staff', 'warehouse_officer', 'donor', 'telecom', 'sync_client', 'stats_reader')),
    admin_unit_code TEXT REFERENCES admin_units (code),
    school_id       BIGINT,
    disabled        BOOLEAN NOT NULL DEFAULT 0,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    CHECK ((role = 'district_officer') = (admin_unit_code IS NOT NULL)),
    CHECK ((role = 'school_staff') = (school_id IS NOT NULL))
);

-- Machine clients (the education data system, statistics scripts).
CREATE TABLE api_clients (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id   TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('sync_client', 'stats_reader')),
    disabled    BOOLEAN NOT NULL DEFAULT 0,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- Every write, by whom, in the same transaction as the write itself.
-- changes holds a JSON summary that never contains personal data.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TIMESTAMP NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    changes   TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id);
