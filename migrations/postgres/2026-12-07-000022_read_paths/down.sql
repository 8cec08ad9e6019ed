DROP TRIGGER admin_unit_tree_restamp ON admin_units;
DROP FUNCTION admin_unit_tree_restamp();
DROP TABLE admin_unit_tree_stamp;
DROP INDEX needs_unit_priority_idx;
