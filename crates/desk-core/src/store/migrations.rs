//! The schema as an append-only list of migrations. Never edit or reorder a released entry: add
//! one. `PRAGMA user_version` records how many have run.

/// Migration `n` (1-based) brings `user_version` from `n - 1` to `n`.
pub const MIGRATIONS: &[&str] = &[
    // 1: orders, refund requests, refunds, the exchange log, the audit log, seen notifications.
    r#"
    CREATE TABLE orders (
        out_trade_no   TEXT PRIMARY KEY,
        transaction_id TEXT NOT NULL UNIQUE,
        total_fee      INTEGER NOT NULL CHECK (total_fee > 0),
        -- When the customer paid, Unix seconds (from WeChat's time_end, GMT+8).
        paid_at        INTEGER NOT NULL,
        openid         TEXT,
        trade_type     TEXT,
        attach         TEXT,
        source         TEXT NOT NULL CHECK (source IN ('notification', 'order_query')),
        recorded_at    INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE refund_requests (
        id             INTEGER PRIMARY KEY,
        -- The shop backend's idempotency key; NULL for a refund the owner created by hand.
        request_id     TEXT UNIQUE,
        out_trade_no   TEXT NOT NULL REFERENCES orders (out_trade_no),
        requested_fee  INTEGER NOT NULL CHECK (requested_fee > 0),
        reason         TEXT NOT NULL,
        customer       TEXT,
        state          TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'withdrawn')),
        decided_by     TEXT,
        decided_at     INTEGER,
        reject_reason  TEXT,
        created_at     INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX refund_requests_by_state ON refund_requests (state, created_at);
    CREATE INDEX refund_requests_by_order ON refund_requests (out_trade_no);

    CREATE TABLE refunds (
        id             INTEGER PRIMARY KEY,
        -- One refund per approval, ever.
        request        INTEGER NOT NULL UNIQUE REFERENCES refund_requests (id),
        out_trade_no   TEXT NOT NULL REFERENCES orders (out_trade_no),
        -- Chosen in the approval's transaction; every retry reuses it.
        out_refund_no  TEXT NOT NULL UNIQUE,
        refund_fee     INTEGER NOT NULL CHECK (refund_fee > 0),
        state          TEXT NOT NULL CHECK (state IN
                           ('approved', 'submitting', 'processing', 'succeeded', 'closed', 'needs_manual', 'failed')),
        refund_id      TEXT,
        -- After NOTENOUGH, when the merchant allows it: send from 可用余额 instead.
        from_recharge  INTEGER NOT NULL DEFAULT 0 CHECK (from_recharge IN (0, 1)),
        attempts       INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        last_error     TEXT,
        failure_reason TEXT,
        approved_by    TEXT NOT NULL,
        approved_at    INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX refunds_by_order ON refunds (out_trade_no);
    CREATE INDEX refunds_by_state ON refunds (state, next_attempt_at);

    -- Every exchange with WeChat, with secrets and signs redacted.
    CREATE TABLE exchanges (
        id             INTEGER PRIMARY KEY,
        at             INTEGER NOT NULL,
        endpoint       TEXT NOT NULL,
        refund         INTEGER REFERENCES refunds (id),
        request        TEXT NOT NULL,
        response       TEXT,
        outcome        TEXT NOT NULL
    ) STRICT;
    CREATE INDEX exchanges_by_refund ON exchanges (refund);

    -- Who decided what, when, for how much, and why.
    CREATE TABLE audit_log (
        id             INTEGER PRIMARY KEY,
        at             INTEGER NOT NULL,
        actor          TEXT NOT NULL,
        action         TEXT NOT NULL,
        out_trade_no   TEXT,
        request        INTEGER,
        amount         INTEGER,
        detail         TEXT
    ) STRICT;
    "#,
];
