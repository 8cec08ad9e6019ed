-- Donors: organisations and people, inside or outside the province. A donor
-- may be linked to a user with the role `donor`, who then sees only their own.
CREATE TABLE donors (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    kind               TEXT NOT NULL CHECK (kind IN ('organisation', 'individual')),
    name               TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    inside_province    BOOLEAN NOT NULL,
    tax_code           TEXT,
    phone              TEXT,
    email              TEXT,
    address            TEXT,
    anonymous_publicly BOOLEAN NOT NULL DEFAULT 0,
    user_id            BIGINT UNIQUE REFERENCES users (id),
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX donors_tax_code_idx ON donors (tax_code) WHERE tax_code IS NOT NULL;
CREATE UNIQUE INDEX donors_phone_idx ON donors (phone) WHERE phone IS NOT NULL;
CREATE UNIQUE INDEX donors_email_idx ON donors (email) WHERE email IS NOT NULL;

-- Campaigns: the open letter and later drives. targets is JSON
-- ({"money_vnd": …, "devices": {"tablet": …}, "data_packages": …, "software_licences": …}).
CREATE TABLE campaigns (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    name                 TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    starts_on            DATE NOT NULL,
    ends_on              DATE,
    status               TEXT NOT NULL CHECK (status IN ('draft', 'open', 'closed')),
    targets              TEXT NOT NULL DEFAULT '{}',
    priority_admin_units TEXT NOT NULL DEFAULT '[]',
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL
);

-- Pledges: a promise of one kind. Money in VND as a 64-bit integer.
CREATE TABLE pledges (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    donor_id            BIGINT NOT NULL REFERENCES donors (id),
    campaign_id         BIGINT NOT NULL REFERENCES campaigns (id),
    kind                TEXT NOT NULL CHECK (kind IN ('money', 'device', 'data_package', 'software')),
    amount_vnd          BIGINT CHECK (amount_vnd > 0),
    quantity            INTEGER CHECK (quantity > 0),
    device_type         TEXT CHECK (device_type IN ('laptop', 'tablet', 'phone', 'desktop')),
    device_condition    TEXT CHECK (device_condition IN ('new', 'used')),
    model               TEXT,
    operator_name       TEXT,
    data_gb_per_month   INTEGER CHECK (data_gb_per_month > 0),
    months              INTEGER CHECK (months > 0),
    product             TEXT,
    earmark_admin_unit  TEXT REFERENCES admin_units (code),
    earmark_school_id   BIGINT REFERENCES schools (id),
    status              TEXT NOT NULL CHECK (status IN ('pledged', 'partly_received', 'received', 'cancelled', 'lapsed')),
    status_reason       TEXT,
    received_amount_vnd BIGINT NOT NULL DEFAULT 0,
    received_quantity   INTEGER NOT NULL DEFAULT 0,
    confirmed_by        TEXT,
    created_by          TEXT NOT NULL,
    version             BIGINT NOT NULL DEFAULT 1,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    CHECK ((kind = 'money') = (amount_vnd IS NOT NULL)),
    CHECK ((kind = 'money') = (quantity IS NULL))
);
CREATE INDEX pledges_campaign_idx ON pledges (campaign_id, id);
CREATE INDEX pledges_donor_idx ON pledges (donor_id, id);

-- Money pledges paid in parts: what is due when.
CREATE TABLE pledge_instalments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    pledge_id  BIGINT NOT NULL REFERENCES pledges (id),
    due_on     DATE NOT NULL,
    amount_vnd BIGINT NOT NULL CHECK (amount_vnd > 0)
);
CREATE INDEX pledge_instalments_pledge_idx ON pledge_instalments (pledge_id, due_on);

CREATE TABLE suppliers (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    tax_code   TEXT UNIQUE,
    contact    TEXT,
    created_at TIMESTAMP NOT NULL
);

-- Purchases paid from a campaign's money, at the negotiated price.
CREATE TABLE purchases (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id    BIGINT NOT NULL REFERENCES campaigns (id),
    supplier_id    BIGINT NOT NULL REFERENCES suppliers (id),
    kind           TEXT NOT NULL CHECK (kind IN ('device', 'data_package', 'software')),
    device_type    TEXT CHECK (device_type IN ('laptop', 'tablet', 'phone', 'desktop')),
    description    TEXT,
    unit_price_vnd BIGINT NOT NULL CHECK (unit_price_vnd > 0),
    quantity       INTEGER NOT NULL CHECK (quantity > 0),
    total_vnd      BIGINT NOT NULL CHECK (total_vnd > 0),
    created_by     TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL
);

-- Receipts: what actually arrived. Never edited or deleted; a correction is
-- a reversing receipt (negative amount or quantity) pointing at the original.
CREATE TABLE receipts (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id        BIGINT NOT NULL REFERENCES campaigns (id),
    pledge_id          BIGINT REFERENCES pledges (id),
    donor_id           BIGINT REFERENCES donors (id),
    purchase_id        BIGINT REFERENCES purchases (id),
    receipt_type       TEXT NOT NULL CHECK (receipt_type IN ('donation', 'purchase')),
    kind               TEXT NOT NULL CHECK (kind IN ('money', 'device', 'data_package', 'software')),
    amount_vnd         BIGINT,
    quantity           INTEGER,
    device_type        TEXT CHECK (device_type IN ('laptop', 'tablet', 'phone', 'desktop')),
    received_on        DATE NOT NULL,
    received_by        TEXT NOT NULL,
    bank_reference     TEXT UNIQUE,
    reverses_id        BIGINT UNIQUE REFERENCES receipts (id),
    over_pledge        BOOLEAN NOT NULL DEFAULT 0,
    note               TEXT,
    created_at         TIMESTAMP NOT NULL,
    CHECK ((kind = 'money') = (amount_vnd IS NOT NULL)),
    CHECK ((kind = 'money') = (quantity IS NULL))
);
CREATE INDEX receipts_campaign_idx ON receipts (campaign_id, id);
CREATE INDEX receipts_pledge_idx ON receipts (pledge_id, id);

-- The money ledger: every movement of a campaign's money; the balance is
-- their sum, never a stored number. Each entry names the two accounts it
-- moves between (double-entry style): donations → fund, fund → supplier,
-- and the reverse for reversals.
CREATE TABLE ledger_entries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id    BIGINT NOT NULL REFERENCES campaigns (id),
    entry_type     TEXT NOT NULL CHECK (entry_type IN ('donation', 'purchase', 'reversal')),
    debit_account  TEXT NOT NULL,
    credit_account TEXT NOT NULL,
    -- + into the campaign fund, - out of it
    amount_vnd     BIGINT NOT NULL CHECK (amount_vnd <> 0),
    receipt_id     BIGINT REFERENCES receipts (id),
    purchase_id    BIGINT REFERENCES purchases (id),
    at             TIMESTAMP NOT NULL
);
CREATE INDEX ledger_entries_campaign_idx ON ledger_entries (campaign_id, id);
