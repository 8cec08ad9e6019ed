DROP TABLE need_events;
DROP TABLE needs;
DROP TABLE priority_rules;
DROP TABLE admin_unit_flags;
