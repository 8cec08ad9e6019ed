DROP VIEW coverage_school_count_parts;
DROP VIEW coverage_count_parts;
