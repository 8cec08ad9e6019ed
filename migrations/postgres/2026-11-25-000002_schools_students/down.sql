ALTER TABLE users DROP CONSTRAINT users_school_fk;
DROP TABLE idempotency_keys;
DROP TABLE student_changes;
DROP TABLE students;
DELETE FROM users WHERE school_id IS NOT NULL;
DROP TABLE schools;
