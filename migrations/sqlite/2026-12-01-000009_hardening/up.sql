-- Hardening (the PostgreSQL twin says why).
ALTER TABLE users ADD COLUMN token_version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE api_clients ADD COLUMN token_version BIGINT NOT NULL DEFAULT 1;

ALTER TABLE receipts ADD COLUMN public_ref TEXT;
UPDATE receipts SET public_ref = upper(hex(randomblob(6)));
CREATE UNIQUE INDEX receipts_public_ref_idx ON receipts (public_ref);

CREATE TABLE maintenance_runs (
    name    TEXT PRIMARY KEY,
    ran_at  TIMESTAMP NOT NULL,
    report  TEXT NOT NULL
);
