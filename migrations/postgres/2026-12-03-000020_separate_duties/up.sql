-- Least privilege: programme finance (confirming pledges, reversals,
-- purchases, suppliers) and programme management (campaigns, drives,
-- priority rules, province-wide flags) are roles of their own, apart from
-- user and client administration (`admin`). An account may hold one or
-- both duties besides its role (`extra_roles`, comma-separated), so a
-- small office can still give them to one person; every admin that exists
-- when this migration runs keeps doing what it did (README, "Roles").
INSERT INTO roles (name) VALUES ('finance_officer'), ('programme_officer');
ALTER TABLE users ADD COLUMN extra_roles TEXT NOT NULL DEFAULT '';
UPDATE users SET extra_roles = 'finance_officer,programme_officer' WHERE role = 'admin';
