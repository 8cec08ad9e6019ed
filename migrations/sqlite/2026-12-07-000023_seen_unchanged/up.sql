-- The last run that sent a student unchanged (see the PostgreSQL migration
-- of the same name: an unchanged student is no longer rewritten only to
-- note the run).
CREATE TABLE students_seen_unchanged (
    student_id INTEGER PRIMARY KEY NOT NULL,
    run_id     TEXT NOT NULL
);
