-- Warehouses, operators and suppliers are edited (PATCH with If-Match):
-- each carries the version its editors read.
ALTER TABLE warehouses ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE operators ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE suppliers ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
