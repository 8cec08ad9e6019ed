-- The 2025 reform as data. The post-reform tree is stored beside the old
-- one (its codes carry the prefix `vn2025:`, so no code names two places).
-- Each old commune lists the new communes it became; exactly one is its
-- default (a commune split across several new ones sends its records to
-- the default unless an officer decides otherwise for a school).
CREATE TABLE admin_unit_successors (
    old_code   TEXT NOT NULL REFERENCES admin_units (code),
    new_code   TEXT NOT NULL REFERENCES admin_units (code),
    is_default BOOLEAN NOT NULL,
    PRIMARY KEY (old_code, new_code)
);
CREATE INDEX admin_unit_successors_new_idx ON admin_unit_successors (new_code);

-- A school in a split commune: which of the new communes it lands in, as
-- an officer decided (who, when).
CREATE TABLE school_successor_overrides (
    school_id  BIGINT PRIMARY KEY NOT NULL REFERENCES schools (id),
    new_code   TEXT NOT NULL REFERENCES admin_units (code),
    decided_by TEXT NOT NULL,
    decided_at TIMESTAMP NOT NULL
);
