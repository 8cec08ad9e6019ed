-- Figures that reconcile (issue "Numbers the public can trust"); the
-- PostgreSQL twin does the same. Tables whose CHECK changes are rebuilt
-- (SQLite cannot alter a CHECK): copied aside, dropped, created anew and
-- filled again. Foreign keys are checked at commit, so rows pointing at the
-- rebuilt table (need events, allocations) find it whole again.
PRAGMA defer_foreign_keys = ON;

-- 1. The money ledger is double-entry with positive amounts: every entry
--    moves money from its credit account to its debit account. Reversals
--    and purchases were stored with the accounts already swapped AND a
--    negative amount; they become positive. Balances are unchanged.
CREATE TABLE ledger_entries_copy AS SELECT id, campaign_id, entry_type, debit_account, credit_account, amount_vnd, receipt_id, purchase_id, at FROM ledger_entries;
DROP TABLE ledger_entries;
CREATE TABLE ledger_entries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id    BIGINT NOT NULL REFERENCES campaigns (id),
    entry_type     TEXT NOT NULL CHECK (entry_type IN ('donation', 'purchase', 'reversal')),
    debit_account  TEXT NOT NULL,
    credit_account TEXT NOT NULL,
    -- Moved from credit_account to debit_account; always positive.
    amount_vnd     BIGINT NOT NULL CHECK (amount_vnd > 0),
    receipt_id     BIGINT REFERENCES receipts (id),
    purchase_id    BIGINT REFERENCES purchases (id),
    at             TIMESTAMP NOT NULL
);
CREATE INDEX ledger_entries_campaign_idx ON ledger_entries (campaign_id, id);
CREATE INDEX ledger_entries_debit_idx ON ledger_entries (debit_account);
CREATE INDEX ledger_entries_credit_idx ON ledger_entries (credit_account);
INSERT INTO ledger_entries (id, campaign_id, entry_type, debit_account, credit_account, amount_vnd, receipt_id, purchase_id, at)
SELECT id, campaign_id, entry_type, debit_account, credit_account, ABS(amount_vnd), receipt_id, purchase_id, at
FROM ledger_entries_copy ORDER BY id;
DROP TABLE ledger_entries_copy;

-- 2. Software licences reach students and schools like data packages do.
--    The student trigger that reads needs goes first (it is recreated below).
DROP TRIGGER coverage_counts_students_grade;
CREATE TABLE needs_copy AS SELECT id, kind, student_id, school_id, admin_unit_code, school_level, quantity, note, status, priority, priority_reasons, reported_by, version, created_at, updated_at FROM needs;
DROP TABLE needs;
CREATE TABLE needs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL CHECK (kind IN ('device', 'connectivity', 'data_package', 'software')),
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

CREATE INDEX needs_student_idx ON needs (student_id);
INSERT INTO needs (id, kind, student_id, school_id, admin_unit_code, school_level, quantity, note, status, priority, priority_reasons, reported_by, version, created_at, updated_at) SELECT id, kind, student_id, school_id, admin_unit_code, school_level, quantity, note, status, priority, priority_reasons, reported_by, version, created_at, updated_at FROM needs_copy ORDER BY id;
DROP TABLE needs_copy;

-- 3. What the programme handed over counts at once: a student who received
--    a device (or a data package) counts as having one from the handover's
--    transaction on, whatever the roster says, until it comes back. The
--    roster's own columns stay what the education data system sent.
ALTER TABLE students ADD COLUMN held_device BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE students ADD COLUMN held_connectivity BOOLEAN NOT NULL DEFAULT FALSE;

-- 4. The count tables learn software needs and held devices. No count
--    changes now: nobody holds anything yet and no software need exists.
ALTER TABLE coverage_counts ADD COLUMN open_software_needs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE coverage_school_counts ADD COLUMN open_software_needs INTEGER NOT NULL DEFAULT 0;
DROP TRIGGER coverage_school_counts_insert;
DROP TRIGGER coverage_school_counts_update;
DROP TRIGGER coverage_counts_students_insert;
DROP TRIGGER coverage_counts_students_update;
DROP TRIGGER coverage_counts_students_delete;

CREATE TRIGGER coverage_school_counts_insert AFTER INSERT ON coverage_counts
BEGIN
    INSERT INTO coverage_school_counts (school_id, students, with_device, with_connectivity, ready,
        open_device_needs, open_connectivity_needs, open_data_package_needs, needs_reported,
        needs_verified, needs_approved, needs_allocated, needs_fulfilled, open_software_needs)
    VALUES (NEW.school_id, NEW.students, NEW.with_device, NEW.with_connectivity, NEW.ready,
        NEW.open_device_needs, NEW.open_connectivity_needs, NEW.open_data_package_needs, NEW.needs_reported,
        NEW.needs_verified, NEW.needs_approved, NEW.needs_allocated, NEW.needs_fulfilled, NEW.open_software_needs)
    ON CONFLICT (school_id) DO UPDATE SET
        students = students + excluded.students,
        with_device = with_device + excluded.with_device,
        with_connectivity = with_connectivity + excluded.with_connectivity,
        ready = ready + excluded.ready,
        open_device_needs = open_device_needs + excluded.open_device_needs,
        open_connectivity_needs = open_connectivity_needs + excluded.open_connectivity_needs,
        open_data_package_needs = open_data_package_needs + excluded.open_data_package_needs,
        needs_reported = needs_reported + excluded.needs_reported,
        needs_verified = needs_verified + excluded.needs_verified,
        needs_approved = needs_approved + excluded.needs_approved,
        needs_allocated = needs_allocated + excluded.needs_allocated,
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled,
        open_software_needs = open_software_needs + excluded.open_software_needs;
END;

CREATE TRIGGER coverage_school_counts_update AFTER UPDATE ON coverage_counts
BEGIN
    UPDATE coverage_school_counts SET
        students = students + NEW.students - OLD.students,
        with_device = with_device + NEW.with_device - OLD.with_device,
        with_connectivity = with_connectivity + NEW.with_connectivity - OLD.with_connectivity,
        ready = ready + NEW.ready - OLD.ready,
        open_device_needs = open_device_needs + NEW.open_device_needs - OLD.open_device_needs,
        open_connectivity_needs = open_connectivity_needs + NEW.open_connectivity_needs - OLD.open_connectivity_needs,
        open_data_package_needs = open_data_package_needs + NEW.open_data_package_needs - OLD.open_data_package_needs,
        needs_reported = needs_reported + NEW.needs_reported - OLD.needs_reported,
        needs_verified = needs_verified + NEW.needs_verified - OLD.needs_verified,
        needs_approved = needs_approved + NEW.needs_approved - OLD.needs_approved,
        needs_allocated = needs_allocated + NEW.needs_allocated - OLD.needs_allocated,
        needs_fulfilled = needs_fulfilled + NEW.needs_fulfilled - OLD.needs_fulfilled,
        open_software_needs = open_software_needs + NEW.open_software_needs - OLD.open_software_needs
    WHERE school_id = NEW.school_id;
END;

-- Only active, not deleted students count; a device or connection counts
-- when the roster says so or the programme handed one over. Open needs:
-- reported, verified, approved or allocated (NeedStatus::OPEN).
CREATE TRIGGER coverage_counts_students_insert AFTER INSERT ON students
BEGIN
    INSERT INTO coverage_counts (school_id, grade, students, with_device, with_connectivity, ready)
    SELECT NEW.school_id, NEW.grade, 1, (NEW.device_status = 'adequate' OR NEW.held_device), (NEW.connectivity_status IN ('mobile_ok', 'fixed') OR NEW.held_connectivity),
           ((NEW.device_status = 'adequate' OR NEW.held_device) AND (NEW.connectivity_status IN ('mobile_ok', 'fixed') OR NEW.held_connectivity))
    WHERE NEW.active AND NOT NEW.deleted
    ON CONFLICT (school_id, grade) DO UPDATE SET
        students = students + excluded.students,
        with_device = with_device + excluded.with_device,
        with_connectivity = with_connectivity + excluded.with_connectivity,
        ready = ready + excluded.ready,
        open_device_needs = open_device_needs + excluded.open_device_needs,
        open_connectivity_needs = open_connectivity_needs + excluded.open_connectivity_needs,
        open_data_package_needs = open_data_package_needs + excluded.open_data_package_needs,
        needs_reported = needs_reported + excluded.needs_reported,
        needs_verified = needs_verified + excluded.needs_verified,
        needs_approved = needs_approved + excluded.needs_approved,
        needs_allocated = needs_allocated + excluded.needs_allocated,
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled,
        open_software_needs = open_software_needs + excluded.open_software_needs;
END;

CREATE TRIGGER coverage_counts_students_update
AFTER UPDATE OF school_id, grade, device_status, connectivity_status, active, deleted,
    held_device, held_connectivity ON students
WHEN (OLD.school_id, OLD.grade, OLD.device_status, OLD.connectivity_status, OLD.active, OLD.deleted,
      OLD.held_device, OLD.held_connectivity)
    IS NOT (NEW.school_id, NEW.grade, NEW.device_status, NEW.connectivity_status, NEW.active, NEW.deleted,
            NEW.held_device, NEW.held_connectivity)
BEGIN
    INSERT INTO coverage_counts (school_id, grade, students, with_device, with_connectivity, ready)
    SELECT OLD.school_id, OLD.grade, -1, -(OLD.device_status = 'adequate' OR OLD.held_device), -(OLD.connectivity_status IN ('mobile_ok', 'fixed') OR OLD.held_connectivity),
           -((OLD.device_status = 'adequate' OR OLD.held_device) AND (OLD.connectivity_status IN ('mobile_ok', 'fixed') OR OLD.held_connectivity))
    WHERE OLD.active AND NOT OLD.deleted
    ON CONFLICT (school_id, grade) DO UPDATE SET
        students = students + excluded.students,
        with_device = with_device + excluded.with_device,
        with_connectivity = with_connectivity + excluded.with_connectivity,
        ready = ready + excluded.ready,
        open_device_needs = open_device_needs + excluded.open_device_needs,
        open_connectivity_needs = open_connectivity_needs + excluded.open_connectivity_needs,
        open_data_package_needs = open_data_package_needs + excluded.open_data_package_needs,
        needs_reported = needs_reported + excluded.needs_reported,
        needs_verified = needs_verified + excluded.needs_verified,
        needs_approved = needs_approved + excluded.needs_approved,
        needs_allocated = needs_allocated + excluded.needs_allocated,
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled,
        open_software_needs = open_software_needs + excluded.open_software_needs;
    INSERT INTO coverage_counts (school_id, grade, students, with_device, with_connectivity, ready)
    SELECT NEW.school_id, NEW.grade, 1, (NEW.device_status = 'adequate' OR NEW.held_device), (NEW.connectivity_status IN ('mobile_ok', 'fixed') OR NEW.held_connectivity),
           ((NEW.device_status = 'adequate' OR NEW.held_device) AND (NEW.connectivity_status IN ('mobile_ok', 'fixed') OR NEW.held_connectivity))
    WHERE NEW.active AND NOT NEW.deleted
    ON CONFLICT (school_id, grade) DO UPDATE SET
        students = students + excluded.students,
        with_device = with_device + excluded.with_device,
        with_connectivity = with_connectivity + excluded.with_connectivity,
        ready = ready + excluded.ready,
        open_device_needs = open_device_needs + excluded.open_device_needs,
        open_connectivity_needs = open_connectivity_needs + excluded.open_connectivity_needs,
        open_data_package_needs = open_data_package_needs + excluded.open_data_package_needs,
        needs_reported = needs_reported + excluded.needs_reported,
        needs_verified = needs_verified + excluded.needs_verified,
        needs_approved = needs_approved + excluded.needs_approved,
        needs_allocated = needs_allocated + excluded.needs_allocated,
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled,
        open_software_needs = open_software_needs + excluded.open_software_needs;
END;

-- A student who changes grade takes their needs along.
CREATE TRIGGER coverage_counts_students_grade AFTER UPDATE OF grade ON students
WHEN OLD.grade <> NEW.grade
BEGIN
    INSERT INTO coverage_counts (school_id, grade, open_device_needs, open_connectivity_needs,
        open_data_package_needs, needs_reported, needs_verified, needs_approved, needs_allocated,
        needs_fulfilled, open_software_needs)
    SELECT d.school_id, OLD.grade,
           -SUM(d.kind = 'device' AND d.status IN ('reported', 'verified', 'approved', 'allocated')),
           -SUM(d.kind = 'connectivity' AND d.status IN ('reported', 'verified', 'approved', 'allocated')),
           -SUM(d.kind = 'data_package' AND d.status IN ('reported', 'verified', 'approved', 'allocated')),
           -SUM(d.status = 'reported'),
           -SUM(d.status = 'verified'),
           -SUM(d.status = 'approved'),
           -SUM(d.status = 'allocated'),
           -SUM(d.status = 'fulfilled'),
           -SUM(d.kind = 'software' AND d.status IN ('reported', 'verified', 'approved', 'allocated'))
    FROM needs d WHERE d.student_id = NEW.id GROUP BY d.school_id
    ON CONFLICT (school_id, grade) DO UPDATE SET
        students = students + excluded.students,
        with_device = with_device + excluded.with_device,
        with_connectivity = with_connectivity + excluded.with_connectivity,
        ready = ready + excluded.ready,
        open_device_needs = open_device_needs + excluded.open_device_needs,
        open_connectivity_needs = open_connectivity_needs + excluded.open_connectivity_needs,
        open_data_package_needs = open_data_package_needs + excluded.open_data_package_needs,
        needs_reported = needs_reported + excluded.needs_reported,
        needs_verified = needs_verified + excluded.needs_verified,
        needs_approved = needs_approved + excluded.needs_approved,
        needs_allocated = needs_allocated + excluded.needs_allocated,
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled,
        open_software_needs = open_software_needs + excluded.open_software_needs;
    INSERT INTO coverage_counts (school_id, grade, open_device_needs, open_connectivity_needs,
        open_data_package_needs, needs_reported, needs_verified, needs_approved, needs_allocated,
        needs_fulfilled, open_software_needs)
    SELECT d.school_id, NEW.grade,
           SUM(d.kind = 'device' AND d.status IN ('reported', 'verified', 'approved', 'allocated')),
           SUM(d.kind = 'connectivity' AND d.status IN ('reported', 'verified', 'approved', 'allocated')),
           SUM(d.kind = 'data_package' AND d.status IN ('reported', 'verified', 'approved', 'allocated')),
           SUM(d.status = 'reported'),
           SUM(d.status = 'verified'),
           SUM(d.status = 'approved'),
           SUM(d.status = 'allocated'),
           SUM(d.status = 'fulfilled'),
           SUM(d.kind = 'software' AND d.status IN ('reported', 'verified', 'approved', 'allocated'))
    FROM needs d WHERE d.student_id = NEW.id GROUP BY d.school_id
    ON CONFLICT (school_id, grade) DO UPDATE SET
        students = students + excluded.students,
        with_device = with_device + excluded.with_device,
        with_connectivity = with_connectivity + excluded.with_connectivity,
        ready = ready + excluded.ready,
        open_device_needs = open_device_needs + excluded.open_device_needs,
        open_connectivity_needs = open_connectivity_needs + excluded.open_connectivity_needs,
        open_data_package_needs = open_data_package_needs + excluded.open_data_package_needs,
        needs_reported = needs_reported + excluded.needs_reported,
        needs_verified = needs_verified + excluded.needs_verified,
        needs_approved = needs_approved + excluded.needs_approved,
        needs_allocated = needs_allocated + excluded.needs_allocated,
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled,
        open_software_needs = open_software_needs + excluded.open_software_needs;
END;

CREATE TRIGGER coverage_counts_students_delete AFTER DELETE ON students
BEGIN
    INSERT INTO coverage_counts (school_id, grade, students, with_device, with_connectivity, ready)
    SELECT OLD.school_id, OLD.grade, -1, -(OLD.device_status = 'adequate' OR OLD.held_device), -(OLD.connectivity_status IN ('mobile_ok', 'fixed') OR OLD.held_connectivity),
           -((OLD.device_status = 'adequate' OR OLD.held_device) AND (OLD.connectivity_status IN ('mobile_ok', 'fixed') OR OLD.held_connectivity))
    WHERE OLD.active AND NOT OLD.deleted
    ON CONFLICT (school_id, grade) DO UPDATE SET
        students = students + excluded.students,
        with_device = with_device + excluded.with_device,
        with_connectivity = with_connectivity + excluded.with_connectivity,
        ready = ready + excluded.ready,
        open_device_needs = open_device_needs + excluded.open_device_needs,
        open_connectivity_needs = open_connectivity_needs + excluded.open_connectivity_needs,
        open_data_package_needs = open_data_package_needs + excluded.open_data_package_needs,
        needs_reported = needs_reported + excluded.needs_reported,
        needs_verified = needs_verified + excluded.needs_verified,
        needs_approved = needs_approved + excluded.needs_approved,
        needs_allocated = needs_allocated + excluded.needs_allocated,
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled,
        open_software_needs = open_software_needs + excluded.open_software_needs;
END;

CREATE TRIGGER coverage_counts_needs_insert AFTER INSERT ON needs
BEGIN
    INSERT INTO coverage_counts (school_id, grade, open_device_needs, open_connectivity_needs,
        open_data_package_needs, needs_reported, needs_verified, needs_approved, needs_allocated,
        needs_fulfilled, open_software_needs)
    SELECT NEW.school_id, COALESCE((SELECT grade FROM students WHERE id = NEW.student_id), 0),
           (NEW.kind = 'device' AND NEW.status IN ('reported', 'verified', 'approved', 'allocated')),
           (NEW.kind = 'connectivity' AND NEW.status IN ('reported', 'verified', 'approved', 'allocated')),
           (NEW.kind = 'data_package' AND NEW.status IN ('reported', 'verified', 'approved', 'allocated')),
           (NEW.status = 'reported'),
           (NEW.status = 'verified'),
           (NEW.status = 'approved'),
           (NEW.status = 'allocated'),
           (NEW.status = 'fulfilled'),
           (NEW.kind = 'software' AND NEW.status IN ('reported', 'verified', 'approved', 'allocated'))
    WHERE true
    ON CONFLICT (school_id, grade) DO UPDATE SET
        students = students + excluded.students,
        with_device = with_device + excluded.with_device,
        with_connectivity = with_connectivity + excluded.with_connectivity,
        ready = ready + excluded.ready,
        open_device_needs = open_device_needs + excluded.open_device_needs,
        open_connectivity_needs = open_connectivity_needs + excluded.open_connectivity_needs,
        open_data_package_needs = open_data_package_needs + excluded.open_data_package_needs,
        needs_reported = needs_reported + excluded.needs_reported,
        needs_verified = needs_verified + excluded.needs_verified,
        needs_approved = needs_approved + excluded.needs_approved,
        needs_allocated = needs_allocated + excluded.needs_allocated,
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled,
        open_software_needs = open_software_needs + excluded.open_software_needs;
END;

CREATE TRIGGER coverage_counts_needs_update
AFTER UPDATE OF school_id, student_id, kind, status ON needs
WHEN (OLD.school_id, OLD.student_id, OLD.kind, OLD.status)
    IS NOT (NEW.school_id, NEW.student_id, NEW.kind, NEW.status)
BEGIN
    INSERT INTO coverage_counts (school_id, grade, open_device_needs, open_connectivity_needs,
        open_data_package_needs, needs_reported, needs_verified, needs_approved, needs_allocated,
        needs_fulfilled, open_software_needs)
    SELECT OLD.school_id, COALESCE((SELECT grade FROM students WHERE id = OLD.student_id), 0),
           -(OLD.kind = 'device' AND OLD.status IN ('reported', 'verified', 'approved', 'allocated')),
           -(OLD.kind = 'connectivity' AND OLD.status IN ('reported', 'verified', 'approved', 'allocated')),
           -(OLD.kind = 'data_package' AND OLD.status IN ('reported', 'verified', 'approved', 'allocated')),
           -(OLD.status = 'reported'),
           -(OLD.status = 'verified'),
           -(OLD.status = 'approved'),
           -(OLD.status = 'allocated'),
           -(OLD.status = 'fulfilled'),
           -(OLD.kind = 'software' AND OLD.status IN ('reported', 'verified', 'approved', 'allocated'))
    WHERE true
    ON CONFLICT (school_id, grade) DO UPDATE SET
        students = students + excluded.students,
        with_device = with_device + excluded.with_device,
        with_connectivity = with_connectivity + excluded.with_connectivity,
        ready = ready + excluded.ready,
        open_device_needs = open_device_needs + excluded.open_device_needs,
        open_connectivity_needs = open_connectivity_needs + excluded.open_connectivity_needs,
        open_data_package_needs = open_data_package_needs + excluded.open_data_package_needs,
        needs_reported = needs_reported + excluded.needs_reported,
        needs_verified = needs_verified + excluded.needs_verified,
        needs_approved = needs_approved + excluded.needs_approved,
        needs_allocated = needs_allocated + excluded.needs_allocated,
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled,
        open_software_needs = open_software_needs + excluded.open_software_needs;
    INSERT INTO coverage_counts (school_id, grade, open_device_needs, open_connectivity_needs,
        open_data_package_needs, needs_reported, needs_verified, needs_approved, needs_allocated,
        needs_fulfilled, open_software_needs)
    SELECT NEW.school_id, COALESCE((SELECT grade FROM students WHERE id = NEW.student_id), 0),
           (NEW.kind = 'device' AND NEW.status IN ('reported', 'verified', 'approved', 'allocated')),
           (NEW.kind = 'connectivity' AND NEW.status IN ('reported', 'verified', 'approved', 'allocated')),
           (NEW.kind = 'data_package' AND NEW.status IN ('reported', 'verified', 'approved', 'allocated')),
           (NEW.status = 'reported'),
           (NEW.status = 'verified'),
           (NEW.status = 'approved'),
           (NEW.status = 'allocated'),
           (NEW.status = 'fulfilled'),
           (NEW.kind = 'software' AND NEW.status IN ('reported', 'verified', 'approved', 'allocated'))
    WHERE true
    ON CONFLICT (school_id, grade) DO UPDATE SET
        students = students + excluded.students,
        with_device = with_device + excluded.with_device,
        with_connectivity = with_connectivity + excluded.with_connectivity,
        ready = ready + excluded.ready,
        open_device_needs = open_device_needs + excluded.open_device_needs,
        open_connectivity_needs = open_connectivity_needs + excluded.open_connectivity_needs,
        open_data_package_needs = open_data_package_needs + excluded.open_data_package_needs,
        needs_reported = needs_reported + excluded.needs_reported,
        needs_verified = needs_verified + excluded.needs_verified,
        needs_approved = needs_approved + excluded.needs_approved,
        needs_allocated = needs_allocated + excluded.needs_allocated,
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled,
        open_software_needs = open_software_needs + excluded.open_software_needs;
END;

CREATE TRIGGER coverage_counts_needs_delete AFTER DELETE ON needs
BEGIN
    INSERT INTO coverage_counts (school_id, grade, open_device_needs, open_connectivity_needs,
        open_data_package_needs, needs_reported, needs_verified, needs_approved, needs_allocated,
        needs_fulfilled, open_software_needs)
    SELECT OLD.school_id, COALESCE((SELECT grade FROM students WHERE id = OLD.student_id), 0),
           -(OLD.kind = 'device' AND OLD.status IN ('reported', 'verified', 'approved', 'allocated')),
           -(OLD.kind = 'connectivity' AND OLD.status IN ('reported', 'verified', 'approved', 'allocated')),
           -(OLD.kind = 'data_package' AND OLD.status IN ('reported', 'verified', 'approved', 'allocated')),
           -(OLD.status = 'reported'),
           -(OLD.status = 'verified'),
           -(OLD.status = 'approved'),
           -(OLD.status = 'allocated'),
           -(OLD.status = 'fulfilled'),
           -(OLD.kind = 'software' AND OLD.status IN ('reported', 'verified', 'approved', 'allocated'))
    WHERE true
    ON CONFLICT (school_id, grade) DO UPDATE SET
        students = students + excluded.students,
        with_device = with_device + excluded.with_device,
        with_connectivity = with_connectivity + excluded.with_connectivity,
        ready = ready + excluded.ready,
        open_device_needs = open_device_needs + excluded.open_device_needs,
        open_connectivity_needs = open_connectivity_needs + excluded.open_connectivity_needs,
        open_data_package_needs = open_data_package_needs + excluded.open_data_package_needs,
        needs_reported = needs_reported + excluded.needs_reported,
        needs_verified = needs_verified + excluded.needs_verified,
        needs_approved = needs_approved + excluded.needs_approved,
        needs_allocated = needs_allocated + excluded.needs_allocated,
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled,
        open_software_needs = open_software_needs + excluded.open_software_needs;
END;
