-- Where a school stood in the old tree when it was re-homed onto the new
-- one: statistics asked in the old tree (`?scheme=vn2008`) count it there,
-- and stock earmarked for an old unit still reaches it. Set once, by the
-- first re-homing; NULL for schools that never moved.
ALTER TABLE schools ADD COLUMN pre_reform_unit_code TEXT;
