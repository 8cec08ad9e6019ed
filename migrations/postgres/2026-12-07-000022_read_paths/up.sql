-- A district's page of needs is read unit by unit, each from this index
-- (src/needs/queries.rs, list): the highest priorities of one unit first.
CREATE INDEX needs_unit_priority_idx ON needs (admin_unit_code, priority DESC, id);

-- The tree stamp (src/platform/unit_tree.rs): a random word renewed in the
-- same transaction as any change to admin_units, so every instance knows
-- when its copy of the tree is out of date.
CREATE TABLE admin_unit_tree_stamp (
    stamp TEXT NOT NULL
);
INSERT INTO admin_unit_tree_stamp (stamp) VALUES (md5(random()::text || clock_timestamp()::text));

CREATE FUNCTION admin_unit_tree_restamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE admin_unit_tree_stamp SET stamp = md5(random()::text || clock_timestamp()::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER admin_unit_tree_restamp
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON admin_units
    FOR EACH STATEMENT EXECUTE FUNCTION admin_unit_tree_restamp();
