-- Epidemic / lockdown flags on admin units. The plan gives these areas
-- priority; a flag covers the unit and everything below it, between its dates.
CREATE TABLE admin_unit_flags (
    admin_unit_code TEXT PRIMARY KEY NOT NULL REFERENCES admin_units (code),
    lockdown        BOOLEAN NOT NULL DEFAULT 0,
    lockdown_from   DATE,
    lockdown_until  DATE,
    note            TEXT,
    updated_at      TIMESTAMP NOT NULL
);

-- The priority rule set: points per reason, edited by admins
-- (PUT /api/v1/priority-rules/{rule}); open needs are re-scored on change.
CREATE TABLE priority_rules (
    rule        TEXT PRIMARY KEY NOT NULL,
    points      INTEGER NOT NULL CHECK (points BETWEEN -1000 AND 1000),
    description TEXT NOT NULL
);
INSERT INTO priority_rules (rule, points, description) VALUES
    ('lockdown_area',     50, 'the school lies in an admin unit flagged as an epidemic/lockdown area today'),
    ('household_poor',    30, 'the student''s household is on the official poor list'),
    ('household_near_poor', 15, 'the student''s household is on the official near-poor list'),
    ('no_device',         25, 'the student has no device at all'),
    ('shared_device',     10, 'the student shares one device with siblings or parents'),
    ('inadequate_device', 12, 'the student''s device cannot run online lessons'),
    ('no_connection',     20, 'the student has no internet connection'),
    ('weak_connection',    8, 'the student has only a weak mobile connection'),
    ('exam_grade',        10, 'grade 9 or 12: the student sits an entrance or graduation exam this year');

-- A verified gap: for one student (device, connectivity, data_package) or
-- for a school (device for a shared lab, connectivity). admin_unit_code and
-- school_level are copied from the school for fast subtree counts.
CREATE TABLE needs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL CHECK (kind IN ('device', 'connectivity', 'data_package')),
    student_id       BIGINT REFERENCES students (id),
    school_id        BIGINT NOT NULL REFERENCES schools (id),
    admin_unit_code  TEXT NOT NULL REFERENCES admin_units (code),
    school_level     TEXT NOT NULL,
    quantity         INTEGER NOT NULL DEFAULT 1 CHECK (quantity BETWEEN 1 AND 10000),
    note             TEXT,
    status           TEXT NOT NULL CHECK (status IN ('reported', 'verified', 'approved', 'allocated', 'fulfilled', 'rejected', 'cancelled')),
    priority         INTEGER NOT NULL,
    priority_reasons TEXT NOT NULL,
    reported_by      TEXT NOT NULL,
    version          BIGINT NOT NULL DEFAULT 1,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    CHECK (kind <> 'data_package' OR student_id IS NOT NULL)
);
-- No student has two open needs of the same kind.
CREATE UNIQUE INDEX needs_one_open_per_student_kind ON needs (student_id, kind)
    WHERE student_id IS NOT NULL AND status IN ('reported', 'verified', 'approved', 'allocated');
-- Lists: a subtree's needs of one status by priority (the default order).
CREATE INDEX needs_unit_status_priority_idx ON needs (admin_unit_code, status, priority DESC, id);
CREATE INDEX needs_school_idx ON needs (school_id, id);

-- Every transition of a need, creation included: who, when, from, to, why.
CREATE TABLE need_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    need_id     BIGINT NOT NULL REFERENCES needs (id),
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT,
    at          TIMESTAMP NOT NULL
);
CREATE INDEX need_events_need_idx ON need_events (need_id, id);
