DROP TABLE idempotency_keys;
DROP TABLE student_changes;
DROP TABLE students;
DELETE FROM users WHERE school_id IS NOT NULL;
DROP TABLE schools;
