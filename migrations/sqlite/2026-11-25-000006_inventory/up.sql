-- Warehouses (a district office, a school storeroom…) and who works in them.
CREATE TABLE warehouses (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    admin_unit_code TEXT NOT NULL REFERENCES admin_units (code),
    address         TEXT,
    created_at      TIMESTAMP NOT NULL
);
CREATE TABLE warehouse_staff (
    user_id      BIGINT NOT NULL REFERENCES users (id),
    warehouse_id BIGINT NOT NULL REFERENCES warehouses (id),
    PRIMARY KEY (user_id, warehouse_id)
);

-- One row per device. Serial and IMEI are unique where given.
CREATE TABLE inventory_items (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    device_type        TEXT NOT NULL CHECK (device_type IN ('laptop', 'tablet', 'phone', 'desktop')),
    model              TEXT,
    serial             TEXT UNIQUE,
    imei               TEXT UNIQUE,
    condition          TEXT NOT NULL CHECK (condition IN ('new', 'used_good', 'needs_repair')),
    receipt_id         BIGINT NOT NULL REFERENCES receipts (id),
    warehouse_id       BIGINT NOT NULL REFERENCES warehouses (id),
    transfer_to        BIGINT REFERENCES warehouses (id),
    earmark_admin_unit TEXT REFERENCES admin_units (code),
    status             TEXT NOT NULL CHECK (status IN ('intake', 'ready', 'in_transit', 'reserved', 'handed_over', 'returned', 'written_off')),
    checked_by         TEXT,
    checked_at         TIMESTAMP,
    status_reason      TEXT,
    version            BIGINT NOT NULL DEFAULT 1,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL,
    CHECK (serial IS NOT NULL OR imei IS NOT NULL)
);
CREATE INDEX inventory_items_ready_idx ON inventory_items (status, warehouse_id, id);

-- Data packages and software licences in stock; how many are left is summed
-- from the stock ledger.
CREATE TABLE inventory_packages (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    kind               TEXT NOT NULL CHECK (kind IN ('data_package', 'software')),
    name               TEXT NOT NULL,
    months             INTEGER,
    receipt_id         BIGINT NOT NULL UNIQUE REFERENCES receipts (id),
    warehouse_id       BIGINT NOT NULL REFERENCES warehouses (id),
    earmark_admin_unit TEXT REFERENCES admin_units (code),
    created_at         TIMESTAMP NOT NULL
);

-- The stock ledger: every movement of stock. Counts per warehouse, kind and
-- status are summed from it (+quantity into to_status, -quantity out of
-- from_status); nothing stores a count.
CREATE TABLE stock_movements (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    movement     TEXT NOT NULL CHECK (movement IN ('intake', 'check', 'transfer_out', 'transfer_in', 'reserve', 'release', 'handover', 'return', 'adjustment', 'write_off')),
    warehouse_id BIGINT NOT NULL REFERENCES warehouses (id),
    stock_key    TEXT NOT NULL,
    item_id      BIGINT REFERENCES inventory_items (id),
    package_id   BIGINT REFERENCES inventory_packages (id),
    from_status  TEXT,
    to_status    TEXT,
    quantity     INTEGER NOT NULL CHECK (quantity > 0),
    reason       TEXT,
    actor        TEXT NOT NULL,
    at           TIMESTAMP NOT NULL
);
CREATE INDEX stock_movements_warehouse_idx ON stock_movements (warehouse_id, stock_key);
CREATE INDEX stock_movements_package_idx ON stock_movements (package_id);

-- An approved need matched to one device or a quantity of a package.
CREATE TABLE allocations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    need_id         BIGINT NOT NULL REFERENCES needs (id),
    item_id         BIGINT REFERENCES inventory_items (id),
    package_id      BIGINT REFERENCES inventory_packages (id),
    quantity        INTEGER NOT NULL DEFAULT 1 CHECK (quantity > 0),
    status          TEXT NOT NULL CHECK (status IN ('active', 'cancelled', 'handed_over')),
    cancel_reason   TEXT,
    created_by      TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    CHECK ((item_id IS NULL) <> (package_id IS NULL))
);
-- A need has one live allocation; a device is reserved once.
CREATE UNIQUE INDEX allocations_one_per_need ON allocations (need_id) WHERE status IN ('active', 'handed_over');
CREATE UNIQUE INDEX allocations_one_per_item ON allocations (item_id) WHERE item_id IS NOT NULL AND status = 'active';

-- The handover to the student (or a parent or guardian).
CREATE TABLE handovers (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    allocation_id    BIGINT NOT NULL UNIQUE REFERENCES allocations (id),
    received_by_name TEXT NOT NULL,
    relation         TEXT NOT NULL CHECK (relation IN ('student', 'parent', 'guardian', 'other')),
    handed_on        DATE NOT NULL,
    handed_by        TEXT NOT NULL,
    proof_ref        TEXT,
    acknowledged     BOOLEAN NOT NULL,
    returned_on      DATE,
    return_reason    TEXT,
    created_at       TIMESTAMP NOT NULL
);
