-- Personal data kept no longer than needed (README, "Retention"). A purge
-- anonymises rather than deletes where statistics, the ledger or a trace
-- need the row; these columns say when it did, so a second run changes
-- nothing.
ALTER TABLE students ADD COLUMN purged_at TIMESTAMP;
ALTER TABLE handovers ADD COLUMN receiver_purged_at TIMESTAMP;
ALTER TABLE donors ADD COLUMN contact_purged_at TIMESTAMP;
-- The donor agreed that the programme keeps their contact data after the
-- retention period (for next year's campaign).
ALTER TABLE donors ADD COLUMN keep_contact BOOLEAN NOT NULL DEFAULT FALSE;
