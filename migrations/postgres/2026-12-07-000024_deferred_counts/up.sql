-- Count rows written later, once for many statements (issue "Speed and
-- scale": the roster sync).
--
-- Until now every statement that wrote students or needs added its deltas
-- to the count rows at once (migration 000007). A sync batch of 1,000
-- students of mixed schools touches about 1,300 count rows, and two batches
-- in flight queued for each other's locks on those rows.
--
-- Now a statement only notes its deltas, summed per school and grade, as one
-- row of `coverage_count_deltas`. The sync benchmark's first load with two
-- batches of mixed schools in flight went from about 31,000 to 36,500
-- students a second (one in flight: 28,000 to 31,000; README, "Roster
-- sync"); the INSERT itself only from 16.5 to 15.2 ms. A folder in
-- every replica of the service (`coverage_counts_fold`, about once a second)
-- moves the noted deltas into the count tables in one transaction. The
-- figures stay exact at every moment: readers sum the views
-- `coverage_count_parts` and `coverage_school_count_parts`, the count rows
-- and the deltas not folded yet, in one snapshot. A fold deletes
-- deltas and adds them to the count rows in the same transaction, so no
-- snapshot sees a delta twice or not at all.

CREATE TABLE coverage_count_deltas (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- A statement's deltas, one per school and grade that moved.
    deltas coverage_counts[] NOT NULL
);

-- The old immediate merge becomes the folder's last step.
ALTER FUNCTION coverage_counts_merge(coverage_counts[]) RENAME TO coverage_counts_apply;

-- The triggers' entry point keeps its name, so the trigger functions of
-- migration 000008 stay as they are; what it does changes: it notes a
-- statement's deltas, summed per school and grade (only those that move
-- something), as one row for the folder, and nothing when nothing moved.
CREATE FUNCTION coverage_counts_merge(deltas coverage_counts[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO coverage_count_deltas (deltas)
    SELECT array_agg(ROW(school_id, grade,
                      students, with_device, with_connectivity, ready,
                      open_device_needs, open_connectivity_needs, open_data_package_needs, needs_reported,
                      needs_verified, needs_approved, needs_allocated, needs_fulfilled,
                      open_software_needs)::coverage_counts
                     ORDER BY school_id, grade)
    FROM (
        SELECT school_id, grade, CAST(SUM(students) AS INTEGER) AS students,
               CAST(SUM(with_device) AS INTEGER) AS with_device,
               CAST(SUM(with_connectivity) AS INTEGER) AS with_connectivity,
               CAST(SUM(ready) AS INTEGER) AS ready,
               CAST(SUM(open_device_needs) AS INTEGER) AS open_device_needs,
               CAST(SUM(open_connectivity_needs) AS INTEGER) AS open_connectivity_needs,
               CAST(SUM(open_data_package_needs) AS INTEGER) AS open_data_package_needs,
               CAST(SUM(needs_reported) AS INTEGER) AS needs_reported,
               CAST(SUM(needs_verified) AS INTEGER) AS needs_verified,
               CAST(SUM(needs_approved) AS INTEGER) AS needs_approved,
               CAST(SUM(needs_allocated) AS INTEGER) AS needs_allocated,
               CAST(SUM(needs_fulfilled) AS INTEGER) AS needs_fulfilled,
               CAST(SUM(open_software_needs) AS INTEGER) AS open_software_needs
        FROM unnest(deltas)
        GROUP BY school_id, grade
    ) summed
    WHERE students <> 0 OR with_device <> 0 OR with_connectivity <> 0 OR ready <> 0 OR
          open_device_needs <> 0 OR open_connectivity_needs <> 0 OR open_data_package_needs <> 0 OR needs_reported <> 0 OR
          needs_verified <> 0 OR needs_approved <> 0 OR needs_allocated <> 0 OR needs_fulfilled <> 0 OR
          open_software_needs <> 0
    HAVING count(*) > 0;
END $$;

-- Moves up to `most` noted rows (oldest first) into the count tables and
-- returns how many it moved. Rows another folder holds are skipped, not
-- waited for, so replicas folding at once share the work.
CREATE FUNCTION coverage_counts_fold(most INTEGER) RETURNS INTEGER
LANGUAGE plpgsql AS $$
DECLARE
    moved INTEGER;
    pending coverage_counts[];
BEGIN
    WITH taken AS (
        DELETE FROM coverage_count_deltas
        WHERE id IN (SELECT id FROM coverage_count_deltas ORDER BY id LIMIT most
                     FOR UPDATE SKIP LOCKED)
        RETURNING deltas
    )
    SELECT (SELECT count(*) FROM taken), ARRAY(SELECT d FROM taken t, unnest(t.deltas) d)
    INTO moved, pending;
    PERFORM coverage_counts_apply(pending);
    RETURN moved;
END $$;

-- What readers read: the count rows and the deltas not folded yet, as
-- parts to be summed per key (a school may have a count row and several
-- noted deltas). Not grouped here: a grouped view hides its row count from
-- the planner (it guessed 200 groups for 10,000 schools and joined the
-- whole country's schools by nested loops: 55 ms instead of 20); every
-- reader sums anyway.
CREATE VIEW coverage_count_parts AS
SELECT school_id, grade,
    students, with_device, with_connectivity, ready,
    open_device_needs, open_connectivity_needs, open_data_package_needs, needs_reported,
    needs_verified, needs_approved, needs_allocated, needs_fulfilled,
    open_software_needs
FROM coverage_counts
UNION ALL
SELECT d.school_id, d.grade,
    d.students, d.with_device, d.with_connectivity, d.ready,
    d.open_device_needs, d.open_connectivity_needs, d.open_data_package_needs, d.needs_reported,
    d.needs_verified, d.needs_approved, d.needs_allocated, d.needs_fulfilled,
    d.open_software_needs
FROM coverage_count_deltas noted CROSS JOIN LATERAL unnest(noted.deltas) d;

CREATE VIEW coverage_school_count_parts AS
SELECT school_id,
    students, with_device, with_connectivity, ready,
    open_device_needs, open_connectivity_needs, open_data_package_needs, needs_reported,
    needs_verified, needs_approved, needs_allocated, needs_fulfilled,
    open_software_needs
FROM coverage_school_counts
UNION ALL
SELECT d.school_id,
    d.students, d.with_device, d.with_connectivity, d.ready,
    d.open_device_needs, d.open_connectivity_needs, d.open_data_package_needs, d.needs_reported,
    d.needs_verified, d.needs_approved, d.needs_allocated, d.needs_fulfilled,
    d.open_software_needs
FROM coverage_count_deltas noted CROSS JOIN LATERAL unnest(noted.deltas) d;
