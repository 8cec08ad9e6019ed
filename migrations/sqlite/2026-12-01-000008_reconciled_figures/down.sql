-- Back to migration 000007's triggers and ledger signs. Software needs stay
-- allowed (removing the word would mean deleting those needs with their
-- events and allocations); the count column for them goes.
DROP TRIGGER coverage_school_counts_insert;
DROP TRIGGER coverage_school_counts_update;
DROP TRIGGER coverage_counts_students_insert;
DROP TRIGGER coverage_counts_students_update;
DROP TRIGGER coverage_counts_students_grade;
DROP TRIGGER coverage_counts_students_delete;
DROP TRIGGER coverage_counts_needs_insert;
DROP TRIGGER coverage_counts_needs_update;
DROP TRIGGER coverage_counts_needs_delete;
ALTER TABLE coverage_counts DROP COLUMN open_software_needs;
ALTER TABLE coverage_school_counts DROP COLUMN open_software_needs;
ALTER TABLE students DROP COLUMN held_device;
ALTER TABLE students DROP COLUMN held_connectivity;
DROP INDEX ledger_entries_debit_idx;
DROP INDEX ledger_entries_credit_idx;

CREATE TRIGGER coverage_school_counts_insert AFTER INSERT ON coverage_counts
BEGIN
    INSERT INTO coverage_school_counts (school_id, students, with_device, with_connectivity, ready,
        open_device_needs, open_connectivity_needs, open_data_package_needs, needs_reported,
        needs_verified, needs_approved, needs_allocated, needs_fulfilled)
    VALUES (NEW.school_id, NEW.students, NEW.with_device, NEW.with_connectivity, NEW.ready,
        NEW.open_device_needs, NEW.open_connectivity_needs, NEW.open_data_package_needs, NEW.needs_reported,
        NEW.needs_verified, NEW.needs_approved, NEW.needs_allocated, NEW.needs_fulfilled)
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
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled;
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
        needs_fulfilled = needs_fulfilled + NEW.needs_fulfilled - OLD.needs_fulfilled
    WHERE school_id = NEW.school_id;
END;

-- Only active, not deleted students count. Open needs: reported, verified,
-- approved or allocated (NeedStatus::OPEN).
CREATE TRIGGER coverage_counts_students_insert AFTER INSERT ON students
BEGIN
    INSERT INTO coverage_counts (school_id, grade, students, with_device, with_connectivity, ready)
    SELECT NEW.school_id, NEW.grade, 1, (NEW.device_status = 'adequate'), (NEW.connectivity_status IN ('mobile_ok', 'fixed')),
           (NEW.device_status = 'adequate' AND NEW.connectivity_status IN ('mobile_ok', 'fixed'))
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
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled;
END;

CREATE TRIGGER coverage_counts_students_update
AFTER UPDATE OF school_id, grade, device_status, connectivity_status, active, deleted ON students
WHEN (OLD.school_id, OLD.grade, OLD.device_status, OLD.connectivity_status, OLD.active, OLD.deleted)
    IS NOT (NEW.school_id, NEW.grade, NEW.device_status, NEW.connectivity_status, NEW.active, NEW.deleted)
BEGIN
    INSERT INTO coverage_counts (school_id, grade, students, with_device, with_connectivity, ready)
    SELECT OLD.school_id, OLD.grade, -1, -(OLD.device_status = 'adequate'), -(OLD.connectivity_status IN ('mobile_ok', 'fixed')),
           -(OLD.device_status = 'adequate' AND OLD.connectivity_status IN ('mobile_ok', 'fixed'))
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
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled;
    INSERT INTO coverage_counts (school_id, grade, students, with_device, with_connectivity, ready)
    SELECT NEW.school_id, NEW.grade, 1, (NEW.device_status = 'adequate'), (NEW.connectivity_status IN ('mobile_ok', 'fixed')),
           (NEW.device_status = 'adequate' AND NEW.connectivity_status IN ('mobile_ok', 'fixed'))
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
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled;
END;


CREATE TRIGGER coverage_counts_students_grade AFTER UPDATE OF grade ON students
WHEN OLD.grade <> NEW.grade
BEGIN
    INSERT INTO coverage_counts (school_id, grade, open_device_needs, open_connectivity_needs,
        open_data_package_needs, needs_reported, needs_verified, needs_approved, needs_allocated,
        needs_fulfilled)
    SELECT d.school_id, OLD.grade,
           -SUM(d.kind = 'device' AND d.status IN ('reported', 'verified', 'approved', 'allocated')),
           -SUM(d.kind = 'connectivity' AND d.status IN ('reported', 'verified', 'approved', 'allocated')),
           -SUM(d.kind = 'data_package' AND d.status IN ('reported', 'verified', 'approved', 'allocated')),
           -SUM(d.status = 'reported'),
           -SUM(d.status = 'verified'),
           -SUM(d.status = 'approved'),
           -SUM(d.status = 'allocated'),
           -SUM(d.status = 'fulfilled')
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
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled;
    INSERT INTO coverage_counts (school_id, grade, open_device_needs, open_connectivity_needs,
        open_data_package_needs, needs_reported, needs_verified, needs_approved, needs_allocated,
        needs_fulfilled)
    SELECT d.school_id, NEW.grade,
           SUM(d.kind = 'device' AND d.status IN ('reported', 'verified', 'approved', 'allocated')),
           SUM(d.kind = 'connectivity' AND d.status IN ('reported', 'verified', 'approved', 'allocated')),
           SUM(d.kind = 'data_package' AND d.status IN ('reported', 'verified', 'approved', 'allocated')),
           SUM(d.status = 'reported'),
           SUM(d.status = 'verified'),
           SUM(d.status = 'approved'),
           SUM(d.status = 'allocated'),
           SUM(d.status = 'fulfilled')
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
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled;
END;

CREATE TRIGGER coverage_counts_students_delete AFTER DELETE ON students
BEGIN
    INSERT INTO coverage_counts (school_id, grade, students, with_device, with_connectivity, ready)
    SELECT OLD.school_id, OLD.grade, -1, -(OLD.device_status = 'adequate'), -(OLD.connectivity_status IN ('mobile_ok', 'fixed')),
           -(OLD.device_status = 'adequate' AND OLD.connectivity_status IN ('mobile_ok', 'fixed'))
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
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled;
END;

CREATE TRIGGER coverage_counts_needs_insert AFTER INSERT ON needs
BEGIN
    INSERT INTO coverage_counts (school_id, grade, open_device_needs, open_connectivity_needs,
        open_data_package_needs, needs_reported, needs_verified, needs_approved, needs_allocated,
        needs_fulfilled)
    SELECT NEW.school_id, COALESCE((SELECT grade FROM students WHERE id = NEW.student_id), 0),
           (NEW.kind = 'device' AND NEW.status IN ('reported', 'verified', 'approved', 'allocated')),
           (NEW.kind = 'connectivity' AND NEW.status IN ('reported', 'verified', 'approved', 'allocated')),
           (NEW.kind = 'data_package' AND NEW.status IN ('reported', 'verified', 'approved', 'allocated')),
           (NEW.status = 'reported'),
           (NEW.status = 'verified'),
           (NEW.status = 'approved'),
           (NEW.status = 'allocated'),
           (NEW.status = 'fulfilled')
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
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled;
END;

CREATE TRIGGER coverage_counts_needs_update
AFTER UPDATE OF school_id, student_id, kind, status ON needs
WHEN (OLD.school_id, OLD.student_id, OLD.kind, OLD.status)
    IS NOT (NEW.school_id, NEW.student_id, NEW.kind, NEW.status)
BEGIN
    INSERT INTO coverage_counts (school_id, grade, open_device_needs, open_connectivity_needs,
        open_data_package_needs, needs_reported, needs_verified, needs_approved, needs_allocated,
        needs_fulfilled)
    SELECT OLD.school_id, COALESCE((SELECT grade FROM students WHERE id = OLD.student_id), 0),
           -(OLD.kind = 'device' AND OLD.status IN ('reported', 'verified', 'approved', 'allocated')),
           -(OLD.kind = 'connectivity' AND OLD.status IN ('reported', 'verified', 'approved', 'allocated')),
           -(OLD.kind = 'data_package' AND OLD.status IN ('reported', 'verified', 'approved', 'allocated')),
           -(OLD.status = 'reported'),
           -(OLD.status = 'verified'),
           -(OLD.status = 'approved'),
           -(OLD.status = 'allocated'),
           -(OLD.status = 'fulfilled')
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
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled;
    INSERT INTO coverage_counts (school_id, grade, open_device_needs, open_connectivity_needs,
        open_data_package_needs, needs_reported, needs_verified, needs_approved, needs_allocated,
        needs_fulfilled)
    SELECT NEW.school_id, COALESCE((SELECT grade FROM students WHERE id = NEW.student_id), 0),
           (NEW.kind = 'device' AND NEW.status IN ('reported', 'verified', 'approved', 'allocated')),
           (NEW.kind = 'connectivity' AND NEW.status IN ('reported', 'verified', 'approved', 'allocated')),
           (NEW.kind = 'data_package' AND NEW.status IN ('reported', 'verified', 'approved', 'allocated')),
           (NEW.status = 'reported'),
           (NEW.status = 'verified'),
           (NEW.status = 'approved'),
           (NEW.status = 'allocated'),
           (NEW.status = 'fulfilled')
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
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled;
END;

CREATE TRIGGER coverage_counts_needs_delete AFTER DELETE ON needs
BEGIN
    INSERT INTO coverage_counts (school_id, grade, open_device_needs, open_connectivity_needs,
        open_data_package_needs, needs_reported, needs_verified, needs_approved, needs_allocated,
        needs_fulfilled)
    SELECT OLD.school_id, COALESCE((SELECT grade FROM students WHERE id = OLD.student_id), 0),
           -(OLD.kind = 'device' AND OLD.status IN ('reported', 'verified', 'approved', 'allocated')),
           -(OLD.kind = 'connectivity' AND OLD.status IN ('reported', 'verified', 'approved', 'allocated')),
           -(OLD.kind = 'data_package' AND OLD.status IN ('reported', 'verified', 'approved', 'allocated')),
           -(OLD.status = 'reported'),
           -(OLD.status = 'verified'),
           -(OLD.status = 'approved'),
           -(OLD.status = 'allocated'),
           -(OLD.status = 'fulfilled')
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
        needs_fulfilled = needs_fulfilled + excluded.needs_fulfilled;
END;
