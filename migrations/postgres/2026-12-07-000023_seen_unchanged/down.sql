-- Folds the notes back into the column before dropping them.
UPDATE students s SET last_seen_run = u.run_id
FROM students_seen_unchanged u WHERE u.student_id = s.id;
DROP TABLE students_seen_unchanged;
