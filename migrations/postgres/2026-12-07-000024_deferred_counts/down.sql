-- Folds what is noted, then goes back to merging at once (migration 000008).
DROP VIEW coverage_school_count_parts;
DROP VIEW coverage_count_parts;
SELECT coverage_counts_apply(ARRAY(SELECT d FROM coverage_count_deltas t, unnest(t.deltas) d));
DROP FUNCTION coverage_counts_fold(INTEGER);
DROP FUNCTION coverage_counts_merge(coverage_counts[]);
ALTER FUNCTION coverage_counts_apply(coverage_counts[]) RENAME TO coverage_counts_merge;
DROP TABLE coverage_count_deltas;
