-- A full-roster run must remember every student it sent, so that completing
-- it deactivates the others. A new or changed student carries the run in
-- students.last_seen_run, written by the same upsert. An unchanged one used
-- to be rewritten only to set that column: on a re-sync of 18 million
-- students that is 17 million new row versions, index entries and trigger
-- rows for nothing (most of a re-sync's time). It is noted here instead: the
-- last run that sent the student unchanged, one narrow row per student.
-- No foreign key: students are never hard-deleted, the rows are written
-- from ids the same transaction just read, and the check would cost a
-- lookup per row on every batch.
CREATE TABLE students_seen_unchanged (
    student_id BIGINT PRIMARY KEY,
    run_id     TEXT NOT NULL
);
