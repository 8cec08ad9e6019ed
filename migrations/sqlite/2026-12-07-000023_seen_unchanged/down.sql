UPDATE students SET last_seen_run = (
    SELECT run_id FROM students_seen_unchanged u WHERE u.student_id = students.id
) WHERE id IN (SELECT student_id FROM students_seen_unchanged);
DROP TABLE students_seen_unchanged;
