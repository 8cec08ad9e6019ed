-- Four eyes on the riskiest money operations: a purchase or a reversal
-- above SONGMAY_FOUR_EYES_VND waits here until a second finance officer
-- approves it (then it is carried out, in the approval's transaction) or
-- rejects it. Nothing reaches the ledger before.
CREATE TABLE money_approvals (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    operation    TEXT NOT NULL CHECK (operation IN ('purchase', 'reversal')),
    -- What the requester asked, as sent (a purchase, or the receipt and reason).
    request      TEXT NOT NULL,
    amount_vnd   BIGINT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending_approval', 'approved', 'rejected')),
    requested_by TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    decided_by   TEXT,
    decided_at   TIMESTAMP,
    reason       TEXT,
    -- The purchase or the reversing receipt the approval created.
    result_id    BIGINT
);
CREATE INDEX money_approvals_status_idx ON money_approvals (status, id);
