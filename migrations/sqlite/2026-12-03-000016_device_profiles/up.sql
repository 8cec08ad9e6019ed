-- Safe internet on every device (part 4 of the plan). The Department keeps
-- a device profile — the software to install, the safe-browsing and
-- filtering settings (a family-safe DNS) — as numbered versions; the
-- newest is the current one. The check of a device records the version
-- applied and what failed; a device becomes ready for a child only with the
-- current version applied in full. A data package records whether the
-- operator's child-safe option is on, where one is offered.
CREATE TABLE device_profiles (
    version      INTEGER PRIMARY KEY NOT NULL CHECK (version > 0),
    name         TEXT NOT NULL,
    software     TEXT NOT NULL,
    safe_dns     TEXT NOT NULL,
    filtering    TEXT NOT NULL,
    notes        TEXT,
    published_by TEXT NOT NULL,
    published_at TIMESTAMP NOT NULL
);

ALTER TABLE inventory_items ADD COLUMN profile_version INTEGER REFERENCES device_profiles (version);
ALTER TABLE inventory_items ADD COLUMN profile_failures TEXT;
ALTER TABLE inventory_items ADD COLUMN profile_applied_at TIMESTAMP;
ALTER TABLE inventory_packages ADD COLUMN child_safe TEXT CHECK (child_safe IN ('enabled', 'not_enabled', 'not_offered'));
