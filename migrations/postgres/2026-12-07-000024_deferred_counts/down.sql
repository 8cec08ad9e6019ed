-- Folds what is noted, then goes back to merging at once (migration 000008).
DROP VIEW coverage_school_count_parts;
DROP VIEW coverage_count_parts;
SELECT coverage_counts_apply(ARRAY(SELECT d FROM coverage_count_deltas t, unnest(t.deltas) d));
DROP FUNCTION coverage_counts_fold(INTEGER);
ALTER FUNCTION coverage_counts_apply(coverage_counts[]) RENAME TO coverage_counts_merge;
CREATE OR REPLACE FUNCTION coverage_counts_students() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION coverage_counts_needs() RETURNS trigger LANGUAGE plpgsql AS $$
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
DROP FUNCTION coverage_counts_defer(coverage_counts[]);
DROP TABLE coverage_count_deltas;
