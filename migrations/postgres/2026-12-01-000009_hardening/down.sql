DROP TABLE maintenance_runs;
DROP INDEX receipts_public_ref_idx;
ALTER TABLE receipts DROP COLUMN public_ref;
ALTER TABLE api_clients DROP COLUMN token_version;
ALTER TABLE users DROP COLUMN token_version;
