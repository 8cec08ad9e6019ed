-- Drives: an agency, an association or a business collects inside a
-- campaign and hands over receipts attributed to the drive, with the
-- number of people who gave (names optional, never public). A receipt
-- belongs to at most one drive; its reversal takes it out of the drive's
-- progress.
CREATE TABLE drives (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id       BIGINT NOT NULL REFERENCES campaigns (id),
    organisation      TEXT NOT NULL,
    organisation_kind TEXT NOT NULL CHECK (organisation_kind IN ('agency', 'association', 'business')),
    target_vnd        BIGINT,
    starts_on         DATE NOT NULL,
    ends_on           DATE,
    contact_name      TEXT NOT NULL,
    contact_phone     TEXT,
    created_by        TEXT NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL
);
CREATE INDEX drives_campaign_idx ON drives (campaign_id);

CREATE TABLE drive_receipts (
    receipt_id        BIGINT PRIMARY KEY REFERENCES receipts (id),
    drive_id          BIGINT NOT NULL REFERENCES drives (id),
    contributor_count INTEGER NOT NULL CHECK (contributor_count > 0),
    contributors      TEXT,
    created_at        TIMESTAMP NOT NULL
);
CREATE INDEX drive_receipts_drive_idx ON drive_receipts (drive_id);
