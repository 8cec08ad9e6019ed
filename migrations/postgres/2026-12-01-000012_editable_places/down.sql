ALTER TABLE suppliers DROP COLUMN version;
ALTER TABLE operators DROP COLUMN version;
ALTER TABLE warehouses DROP COLUMN version;
