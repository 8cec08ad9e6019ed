DROP TABLE platform_adoptions;
DROP TABLE platform_offer_events;
DROP TABLE platform_offers;
DELETE FROM users WHERE role = 'tech_partner';
ALTER TABLE users DROP CONSTRAINT users_role_fk;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'district_officer', 'school_staff', 'warehouse_officer', 'donor', 'telecom', 'sync_client', 'stats_reader'));
DROP TABLE roles;
