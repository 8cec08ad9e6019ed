ALTER TABLE inventory_packages DROP COLUMN child_safe;
ALTER TABLE inventory_items DROP COLUMN profile_applied_at;
ALTER TABLE inventory_items DROP COLUMN profile_failures;
ALTER TABLE inventory_items DROP COLUMN profile_version;
DROP TABLE device_profiles;
