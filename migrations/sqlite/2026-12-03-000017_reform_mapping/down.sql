DROP TABLE school_successor_overrides;
DROP TABLE admin_unit_successors;
