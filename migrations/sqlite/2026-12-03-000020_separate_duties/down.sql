ALTER TABLE users DROP COLUMN extra_roles;
DELETE FROM roles WHERE name IN ('finance_officer', 'programme_officer');
