-- Webhooks from a transactional outbox (the PostgreSQL twin says why).
CREATE TABLE outbox_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_type      TEXT NOT NULL,
    entity          TEXT NOT NULL,
    entity_id       BIGINT NOT NULL,
    admin_unit_code TEXT,
    payload         TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    dispatched_at   TIMESTAMP
);
CREATE INDEX outbox_events_waiting_idx ON outbox_events (id) WHERE dispatched_at IS NULL;

CREATE TABLE webhook_subscriptions (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    url                  TEXT NOT NULL,
    event_types          TEXT NOT NULL,
    admin_unit_code      TEXT REFERENCES admin_units (code),
    secret               TEXT NOT NULL,
    active               BOOLEAN NOT NULL DEFAULT 1,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    disabled_reason      TEXT,
    created_by           TEXT NOT NULL,
    created_at           TIMESTAMP NOT NULL,
    updated_at           TIMESTAMP NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id  BIGINT NOT NULL REFERENCES webhook_subscriptions (id),
    event_id         BIGINT NOT NULL REFERENCES outbox_events (id),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMP NOT NULL,
    lease_until      TIMESTAMP,
    last_status_code INTEGER,
    last_error       TEXT,
    delivered_at     TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id  BIGINT NOT NULL REFERENCES webhook_deliveries (id),
    at           TIMESTAMP NOT NULL,
    status_code  INTEGER,
    error        TEXT,
    duration_ms  BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id);
