-- The PostgreSQL twin notes count deltas and folds them later, and readers
-- sum the views below (the count rows and the deltas not folded yet).
-- SQLite has one writer at a time and its per-row triggers keep the count
-- rows exact at once, so here the views are the count rows themselves.
CREATE VIEW coverage_count_parts AS
SELECT school_id, grade,
    students, with_device, with_connectivity, ready,
    open_device_needs, open_connectivity_needs, open_data_package_needs, needs_reported,
    needs_verified, needs_approved, needs_allocated, needs_fulfilled,
    open_software_needs
FROM coverage_counts;

CREATE VIEW coverage_school_count_parts AS
SELECT school_id,
    students, with_device, with_connectivity, ready,
    open_device_needs, open_connectivity_needs, open_data_package_needs, needs_reported,
    needs_verified, needs_approved, needs_allocated, needs_fulfilled,
    open_software_needs
FROM coverage_school_counts;
