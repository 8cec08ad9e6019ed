-- Hardening (issue "no input, race or fault turns into a 500 …").
--
-- 1. A token names the version of its account; a password reset, a
--    disable or enable, or a change of role or scope bumps it, so tokens
--    issued before stop working at once, on every replica.
ALTER TABLE users ADD COLUMN token_version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE api_clients ADD COLUMN token_version BIGINT NOT NULL DEFAULT 1;

-- 2. The reference a donor follows their gift by: unguessable, printed on
--    the letter (receipt numbers are sequential and could be enumerated).
ALTER TABLE receipts ADD COLUMN public_ref TEXT;
UPDATE receipts SET public_ref = upper(substr(md5(random()::text || id::text || clock_timestamp()::text), 1, 12));
CREATE UNIQUE INDEX receipts_public_ref_idx ON receipts (public_ref);

-- 3. One-off data maintenance that runs once per database (the identifier
--    normalisation of existing rows), with what it did.
CREATE TABLE maintenance_runs (
    name    TEXT PRIMARY KEY,
    ran_at  TIMESTAMP NOT NULL,
    report  TEXT NOT NULL
);
