-- Back to migration 000007's counts, needs and ledger signs.
DROP TRIGGER coverage_counts_needs_delete ON needs;
DROP TRIGGER coverage_counts_needs_update ON needs;
DROP TRIGGER coverage_counts_needs_insert ON needs;
DROP TRIGGER coverage_counts_students_delete ON students;
DROP TRIGGER coverage_counts_students_update ON students;
DROP TRIGGER coverage_counts_students_insert ON students;
DROP FUNCTION coverage_counts_needs();
DROP FUNCTION coverage_counts_students();
DROP FUNCTION coverage_need_delta(needs, INTEGER, INTEGER);
DROP FUNCTION coverage_student_delta(students, INTEGER);
DROP FUNCTION coverage_counts_merge(coverage_counts[]);
ALTER TABLE coverage_counts DROP COLUMN open_software_needs;
ALTER TABLE coverage_school_counts DROP COLUMN open_software_needs;
DROP INDEX needs_student_idx;
CREATE FUNCTION coverage_counts_merge(deltas coverage_counts[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(deltas) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO coverage_counts AS c
    SELECT school_id, grade, SUM(students), SUM(with_device), SUM(with_connectivity),
           SUM(ready), SUM(open_device_needs), SUM(open_connectivity_needs),
           SUM(open_data_package_needs), SUM(needs_reported), SUM(needs_verified),
           SUM(needs_approved), SUM(needs_allocated), SUM(needs_fulfilled)
    FROM unnest(deltas)
    GROUP BY school_id, grade
    -- An update that moves nothing (a new name, a re-synced identical row)
    -- writes no count row and waits for no lock.
    HAVING SUM(students) <> 0 OR SUM(with_device) <> 0 OR SUM(with_connectivity) <> 0
        OR SUM(ready) <> 0 OR SUM(open_device_needs) <> 0 OR SUM(open_connectivity_needs) <> 0
        OR SUM(open_data_package_needs) <> 0 OR SUM(needs_reported) <> 0
        OR SUM(needs_verified) <> 0 OR SUM(needs_approved) <> 0 OR SUM(needs_allocated) <> 0
        OR SUM(needs_fulfilled) <> 0
    ORDER BY school_id, grade
    ON CONFLICT (school_id, grade) DO UPDATE SET
        students = c.students + EXCLUDED.students,
        with_device = c.with_device + EXCLUDED.with_device,
        with_connectivity = c.with_connectivity + EXCLUDED.with_connectivity,
        ready = c.ready + EXCLUDED.ready,
        open_device_needs = c.open_device_needs + EXCLUDED.open_device_needs,
        open_connectivity_needs = c.open_connectivity_needs + EXCLUDED.open_connectivity_needs,
        open_data_package_needs = c.open_data_package_needs + EXCLUDED.open_data_package_needs,
        needs_reported = c.needs_reported + EXCLUDED.needs_reported,
        needs_verified = c.needs_verified + EXCLUDED.needs_verified,
        needs_approved = c.needs_approved + EXCLUDED.needs_approved,
        needs_allocated = c.needs_allocated + EXCLUDED.needs_allocated,
        needs_fulfilled = c.needs_fulfilled + EXCLUDED.needs_fulfilled;
    INSERT INTO coverage_school_counts AS c
    SELECT school_id, SUM(students), SUM(with_device), SUM(with_connectivity),
           SUM(ready), SUM(open_device_needs), SUM(open_connectivity_needs),
           SUM(open_data_package_needs), SUM(needs_reported), SUM(needs_verified),
           SUM(needs_approved), SUM(needs_allocated), SUM(needs_fulfilled)
    FROM unnest(deltas)
    GROUP BY school_id
    HAVING SUM(students) <> 0 OR SUM(with_device) <> 0 OR SUM(with_connectivity) <> 0
        OR SUM(ready) <> 0 OR SUM(open_device_needs) <> 0 OR SUM(open_connectivity_needs) <> 0
        OR SUM(open_data_package_needs) <> 0 OR SUM(needs_reported) <> 0
        OR SUM(needs_verified) <> 0 OR SUM(needs_approved) <> 0 OR SUM(needs_allocated) <> 0
        OR SUM(needs_fulfilled) <> 0
    ORDER BY school_id
    ON CONFLICT (school_id) DO UPDATE SET
        students = c.students + EXCLUDED.students,
        with_device = c.with_device + EXCLUDED.with_device,
        with_connectivity = c.with_connectivity + EXCLUDED.with_connectivity,
        ready = c.ready + EXCLUDED.ready,
        open_device_needs = c.open_device_needs + EXCLUDED.open_device_needs,
        open_connectivity_needs = c.open_connectivity_needs + EXCLUDED.open_connectivity_needs,
        open_data_package_needs = c.open_data_package_needs + EXCLUDED.open_data_package_needs,
        needs_reported = c.needs_reported + EXCLUDED.needs_reported,
        needs_verified = c.needs_verified + EXCLUDED.needs_verified,
        needs_approved = c.needs_approved + EXCLUDED.needs_approved,
        needs_allocated = c.needs_allocated + EXCLUDED.needs_allocated,
        needs_fulfilled = c.needs_fulfilled + EXCLUDED.needs_fulfilled;
END $$;

-- What one student row adds (sign 1) or takes away (sign -1): only active,
-- not deleted students count.
CREATE FUNCTION coverage_student_delta(s students, sign INTEGER) RETURNS coverage_counts
LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(
        s.school_id, s.grade, sign,
        sign * (s.device_status = 'adequate')::INTEGER,
        sign * (s.connectivity_status IN ('mobile_ok', 'fixed'))::INTEGER,
        sign * (s.device_status = 'adequate' AND s.connectivity_status IN ('mobile_ok', 'fixed'))::INTEGER,
        0, 0, 0, 0, 0, 0, 0, 0
    )::coverage_counts
$$;

-- What one need row adds or takes away, at its student's grade (0: none).
-- Open means reported, verified, approved or allocated (NeedStatus::OPEN).
CREATE FUNCTION coverage_need_delta(n needs, grade INTEGER, sign INTEGER) RETURNS coverage_counts
LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(
        n.school_id, COALESCE(grade, 0), 0, 0, 0, 0,
        sign * (n.kind = 'device' AND n.status IN ('reported', 'verified', 'approved', 'allocated'))::INTEGER,
        sign * (n.kind = 'connectivity' AND n.status IN ('reported', 'verified', 'approved', 'allocated'))::INTEGER,
        sign * (n.kind = 'data_package' AND n.status IN ('reported', 'verified', 'approved', 'allocated'))::INTEGER,
        sign * (n.status = 'reported')::INTEGER,
        sign * (n.status = 'verified')::INTEGER,
        sign * (n.status = 'approved')::INTEGER,
        sign * (n.status = 'allocated')::INTEGER,
        sign * (n.status = 'fulfilled')::INTEGER
    )::coverage_counts
$$;

CREATE FUNCTION coverage_counts_students() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM coverage_counts_merge(ARRAY(
            SELECT coverage_student_delta(n, 1) FROM new_rows n
            WHERE n.active AND NOT n.deleted));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM coverage_counts_merge(ARRAY(
            SELECT coverage_student_delta(o, -1) FROM old_rows o
            WHERE o.active AND NOT o.deleted));
    ELSIF EXISTS (SELECT FROM new_rows) THEN
        -- Only rows whose counted columns changed (a new name moves nothing).
        PERFORM coverage_counts_merge(ARRAY(
            WITH moved AS (
                SELECT o.id, o.grade AS old_grade, n.grade AS new_grade
                FROM old_rows o JOIN new_rows n ON n.id = o.id
                WHERE (o.school_id, o.grade, o.device_status, o.connectivity_status, o.active, o.deleted)
                    IS DISTINCT FROM
                    (n.school_id, n.grade, n.device_status, n.connectivity_status, n.active, n.deleted)
            )
            SELECT coverage_student_delta(n, 1) FROM new_rows n JOIN moved m ON m.id = n.id
            WHERE n.active AND NOT n.deleted
            UNION ALL
            SELECT coverage_student_delta(o, -1) FROM old_rows o JOIN moved m ON m.id = o.id
            WHERE o.active AND NOT o.deleted
            -- A student who changes grade takes their needs along.
            UNION ALL
            SELECT coverage_need_delta(d, m.old_grade, -1)
            FROM moved m JOIN needs d ON d.student_id = m.id
            WHERE m.old_grade <> m.new_grade
            UNION ALL
            SELECT coverage_need_delta(d, m.new_grade, 1)
            FROM moved m JOIN needs d ON d.student_id = m.id
            WHERE m.old_grade <> m.new_grade));
    END IF;
    RETURN NULL;
END $$;

-- A student's needs, for the grade move above (the only full index on it).
CREATE INDEX needs_student_idx ON needs (student_id);

CREATE FUNCTION coverage_counts_needs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM coverage_counts_merge(ARRAY(
            SELECT coverage_need_delta(n, s.grade, 1)
            FROM new_rows n LEFT JOIN students s ON s.id = n.student_id));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM coverage_counts_merge(ARRAY(
            SELECT coverage_need_delta(o, s.grade, -1)
            FROM old_rows o LEFT JOIN students s ON s.id = o.student_id));
    ELSIF EXISTS (SELECT FROM new_rows) THEN
        -- Only needs whose counted columns changed (a new priority moves nothing).
        PERFORM coverage_counts_merge(ARRAY(
            WITH moved AS (
                SELECT o.id
                FROM old_rows o JOIN new_rows n ON n.id = o.id
                WHERE (o.school_id, o.student_id, o.kind, o.status)
                    IS DISTINCT FROM (n.school_id, n.student_id, n.kind, n.status)
            )
            SELECT coverage_need_delta(n, s.grade, 1)
            FROM new_rows n JOIN moved m ON m.id = n.id
            LEFT JOIN students s ON s.id = n.student_id
            UNION ALL
            SELECT coverage_need_delta(o, s.grade, -1)
            FROM old_rows o JOIN moved m ON m.id = o.id
            LEFT JOIN students s ON s.id = o.student_id));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER coverage_counts_students_insert AFTER INSERT ON students
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION coverage_counts_students();
CREATE TRIGGER coverage_counts_students_update AFTER UPDATE ON students
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION coverage_counts_students();
CREATE TRIGGER coverage_counts_students_delete AFTER DELETE ON students
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION coverage_counts_students();
CREATE TRIGGER coverage_counts_needs_insert AFTER INSERT ON needs
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION coverage_counts_needs();
CREATE TRIGGER coverage_counts_needs_update AFTER UPDATE ON needs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION coverage_counts_needs();
CREATE TRIGGER coverage_counts_needs_delete AFTER DELETE ON needs
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION coverage_counts_needs();


ALTER TABLE students DROP COLUMN held_device, DROP COLUMN held_connectivity;
-- Software needs stay allowed: removing the word would need deleting
-- those needs with their events and allocations, which no down migration
-- should do silently.
DROP INDEX ledger_entries_credit_idx;
DROP INDEX ledger_entries_debit_idx;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_amount_vnd_check;
UPDATE ledger_entries SET amount_vnd = -amount_vnd WHERE entry_type IN ('reversal', 'purchase');
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_amount_vnd_check CHECK (amount_vnd <> 0);
