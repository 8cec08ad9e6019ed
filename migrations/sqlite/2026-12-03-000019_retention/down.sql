ALTER TABLE donors DROP COLUMN keep_contact;
ALTER TABLE donors DROP COLUMN contact_purged_at;
ALTER TABLE handovers DROP COLUMN receiver_purged_at;
ALTER TABLE students DROP COLUMN purged_at;
