ALTER TABLE schools DROP COLUMN pre_reform_unit_code;
