-- A district's page of needs is read unit by unit, each from this index
-- (src/needs/queries.rs, list): the highest priorities of one unit first.
CREATE INDEX needs_unit_priority_idx ON needs (admin_unit_code, priority DESC, id);

-- The tree stamp (src/platform/unit_tree.rs): a random word renewed in the
-- same transaction as any change to admin_units, so every instance knows
-- when its copy of the tree is out of date.
CREATE TABLE admin_unit_tree_stamp (
    stamp TEXT NOT NULL
);
INSERT INTO admin_unit_tree_stamp (stamp) VALUES (lower(hex(randomblob(16))));

CREATE TRIGGER admin_unit_tree_restamp_insert AFTER INSERT ON admin_units
BEGIN
    UPDATE admin_unit_tree_stamp SET stamp = lower(hex(randomblob(16)));
END;
CREATE TRIGGER admin_unit_tree_restamp_update AFTER UPDATE ON admin_units
BEGIN
    UPDATE admin_unit_tree_stamp SET stamp = lower(hex(randomblob(16)));
END;
CREATE TRIGGER admin_unit_tree_restamp_delete AFTER DELETE ON admin_units
BEGIN
    UPDATE admin_unit_tree_stamp SET stamp = lower(hex(randomblob(16)));
END;
