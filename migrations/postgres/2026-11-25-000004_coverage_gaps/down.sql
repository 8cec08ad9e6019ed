DROP TABLE coverage_gaps;
ALTER TABLE users DROP COLUMN operator_id;
DROP TABLE operators;
