-- Figures that reconcile (issue "Numbers the public can trust").
--
-- 1. The money ledger is double-entry with positive amounts: every entry
--    moves money from its credit account to its debit account. Reversals
--    and purchases were stored with the accounts already swapped AND a
--    negative amount; they become positive. Balances are unchanged: a
--    fund's balance was the sum of signed amounts, it is now its debits
--    minus its credits, the same number.
UPDATE ledger_entries SET amount_vnd = -amount_vnd WHERE amount_vnd < 0;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_amount_vnd_check;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_amount_vnd_check CHECK (amount_vnd > 0);
CREATE INDEX ledger_entries_debit_idx ON ledger_entries (debit_account);
CREATE INDEX ledger_entries_credit_idx ON ledger_entries (credit_account);

-- 2. Software licences reach students and schools like data packages do:
--    a need of kind `software` takes a licence from software stock.
ALTER TABLE needs DROP CONSTRAINT needs_kind_check;
ALTER TABLE needs ADD CONSTRAINT needs_kind_check
    CHECK (kind IN ('device', 'connectivity', 'data_package', 'software'));

-- 3. What the programme handed over counts at once: a student who received
--    a device (or a data package) counts as having one from the handover's
--    transaction on, whatever the roster says, until it comes back. The
--    roster's own columns stay what the education data system sent.
ALTER TABLE students
    ADD COLUMN held_device BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN held_connectivity BOOLEAN NOT NULL DEFAULT FALSE;

-- 4. The count tables learn software needs and held devices. The functions
--    are replaced (the row type gained a column); no count changes, since
--    no student holds anything yet and no software need exists.
ALTER TABLE coverage_counts ADD COLUMN open_software_needs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE coverage_school_counts ADD COLUMN open_software_needs INTEGER NOT NULL DEFAULT 0;
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

-- Adds signed deltas to both tables, summed per count row and applied in key
-- order (so two transactions lock count rows in the same order).
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
           SUM(needs_approved), SUM(needs_allocated), SUM(needs_fulfilled),
           SUM(open_software_needs)
    FROM unnest(deltas)
    GROUP BY school_id, grade
    -- An update that moves nothing (a new name, a re-synced identical row)
    -- writes no count row and waits for no lock.
    HAVING SUM(students) <> 0 OR SUM(with_device) <> 0 OR SUM(with_connectivity) <> 0
        OR SUM(ready) <> 0 OR SUM(open_device_needs) <> 0 OR SUM(open_connectivity_needs) <> 0
        OR SUM(open_data_package_needs) <> 0 OR SUM(needs_reported) <> 0
        OR SUM(needs_verified) <> 0 OR SUM(needs_approved) <> 0 OR SUM(needs_allocated) <> 0
        OR SUM(needs_fulfilled) <> 0 OR SUM(open_software_needs) <> 0
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
        needs_fulfilled = c.needs_fulfilled + EXCLUDED.needs_fulfilled,
        open_software_needs = c.open_software_needs + EXCLUDED.open_software_needs;
    INSERT INTO coverage_school_counts AS c
    SELECT school_id, SUM(students), SUM(with_device), SUM(with_connectivity),
           SUM(ready), SUM(open_device_needs), SUM(open_connectivity_needs),
           SUM(open_data_package_needs), SUM(needs_reported), SUM(needs_verified),
           SUM(needs_approved), SUM(needs_allocated), SUM(needs_fulfilled),
           SUM(open_software_needs)
    FROM unnest(deltas)
    GROUP BY school_id
    HAVING SUM(students) <> 0 OR SUM(with_device) <> 0 OR SUM(with_connectivity) <> 0
        OR SUM(ready) <> 0 OR SUM(open_device_needs) <> 0 OR SUM(open_connectivity_needs) <> 0
        OR SUM(open_data_package_needs) <> 0 OR SUM(needs_reported) <> 0
        OR SUM(needs_verified) <> 0 OR SUM(needs_approved) <> 0 OR SUM(needs_allocated) <> 0
        OR SUM(needs_fulfilled) <> 0 OR SUM(open_software_needs) <> 0
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
        needs_fulfilled = c.needs_fulfilled + EXCLUDED.needs_fulfilled,
        open_software_needs = c.open_software_needs + EXCLUDED.open_software_needs;
END $$;

-- What one student row adds (sign 1) or takes away (sign -1): only active,
-- not deleted students count; a device or connection counts when the
-- roster says so or the programme handed one over.
CREATE FUNCTION coverage_student_delta(s students, sign INTEGER) RETURNS coverage_counts
LANGUAGE sql IMMUTABLE AS $$
    SELECT ROW(
        s.school_id, s.grade, sign,
        sign * (s.device_status = 'adequate' OR s.held_device)::INTEGER,
        sign * (s.connectivity_status IN ('mobile_ok', 'fixed') OR s.held_connectivity)::INTEGER,
        sign * ((s.device_status = 'adequate' OR s.held_device)
            AND (s.connectivity_status IN ('mobile_ok', 'fixed') OR s.held_connectivity))::INTEGER,
        0, 0, 0, 0, 0, 0, 0, 0, 0
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
        sign * (n.status = 'fulfilled')::INTEGER,
        sign * (n.kind = 'software' AND n.status IN ('reported', 'verified', 'approved', 'allocated'))::INTEGER
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
                WHERE (o.school_id, o.grade, o.device_status, o.connectivity_status, o.active, o.deleted,
                       o.held_device, o.held_connectivity)
                    IS DISTINCT FROM
                    (n.school_id, n.grade, n.device_status, n.connectivity_status, n.active, n.deleted,
                     n.held_device, n.held_connectivity)
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
