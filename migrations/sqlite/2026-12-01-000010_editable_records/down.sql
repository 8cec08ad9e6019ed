ALTER TABLE campaigns DROP COLUMN version;
ALTER TABLE donors DROP COLUMN version;
