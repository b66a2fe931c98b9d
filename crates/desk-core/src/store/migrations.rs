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
    // 2: what a shop with a million orders needs. Each request carries where it stands in the
    // queue (its own state until approved, then its refund's), kept by triggers in the same
    // transaction as every change, with a count per state: the tabs and the tray read ten rows
    // instead of counting the whole queue, and a tab pages through its own index. Paid orders
    // are listed newest first from an index.
    r#"
    ALTER TABLE refund_requests ADD COLUMN queue_state TEXT;
    UPDATE refund_requests SET queue_state =
        COALESCE((SELECT r.state FROM refunds r WHERE r.request = refund_requests.id), state);
    CREATE INDEX refund_requests_by_queue_state ON refund_requests (queue_state, id);

    CREATE TABLE queue_counts (
        state          TEXT PRIMARY KEY,
        count          INTEGER NOT NULL CHECK (count >= 0)
    ) STRICT, WITHOUT ROWID;
    INSERT INTO queue_counts (state, count)
        SELECT queue_state, COUNT(*) FROM refund_requests GROUP BY queue_state;

    CREATE TRIGGER queue_state_of_new_request AFTER INSERT ON refund_requests BEGIN
        UPDATE refund_requests SET queue_state = NEW.state WHERE id = NEW.id;
    END;
    CREATE TRIGGER queue_state_of_decision AFTER UPDATE OF state ON refund_requests BEGIN
        UPDATE refund_requests
        SET queue_state = COALESCE((SELECT r.state FROM refunds r WHERE r.request = NEW.id), NEW.state)
        WHERE id = NEW.id;
    END;
    CREATE TRIGGER queue_state_of_new_refund AFTER INSERT ON refunds BEGIN
        UPDATE refund_requests SET queue_state = NEW.state WHERE id = NEW.request;
    END;
    CREATE TRIGGER queue_state_of_refund AFTER UPDATE OF state ON refunds BEGIN
        UPDATE refund_requests SET queue_state = NEW.state WHERE id = NEW.request;
    END;
    CREATE TRIGGER queue_counts_follow AFTER UPDATE OF queue_state ON refund_requests
    WHEN OLD.queue_state IS NOT NEW.queue_state BEGIN
        UPDATE queue_counts SET count = count - 1 WHERE state = OLD.queue_state;
        INSERT INTO queue_counts (state, count) VALUES (NEW.queue_state, 1)
            ON CONFLICT (state) DO UPDATE SET count = count + 1;
    END;
    CREATE TRIGGER queue_counts_of_removed AFTER DELETE ON refund_requests BEGIN
        UPDATE queue_counts SET count = count - 1 WHERE state = OLD.queue_state;
    END;

    CREATE INDEX orders_by_paid_at ON orders (paid_at DESC, out_trade_no);
    -- The engine's look for due work reads only refunds still in flight, soonest first.
    CREATE INDEX refunds_due ON refunds (COALESCE(next_attempt_at, 0), id)
        WHERE state IN ('approved', 'submitting', 'processing');
    "#,
    // 3: the refund lifecycle of `lifecycle.rs`. A refund whose fate WeChat has not told us
    // stays 'submitting' until asked; 'held' waits for the owner to fix the desk's setup;
    // problems are stored as codes with WeChat's own words beside them, not as sentences.
    // Rows from before: a refund waiting to be sent again after an unknown outcome, and a
    // failed one (failed then without asking WeChat), are asked of WeChat again.
    r#"
    DROP TRIGGER queue_state_of_new_refund;
    DROP TRIGGER queue_state_of_refund;
    DROP TRIGGER queue_state_of_decision;
    DROP INDEX refunds_due;

    CREATE TABLE refunds_v3 (
        id             INTEGER PRIMARY KEY,
        -- One refund per approval, ever.
        request        INTEGER NOT NULL UNIQUE REFERENCES refund_requests (id),
        out_trade_no   TEXT NOT NULL REFERENCES orders (out_trade_no),
        -- Chosen in the approval's transaction; every send reuses it.
        out_refund_no  TEXT NOT NULL UNIQUE,
        refund_fee     INTEGER NOT NULL CHECK (refund_fee > 0),
        state          TEXT NOT NULL CHECK (state IN
                           ('approved', 'submitting', 'held', 'processing', 'succeeded', 'closed', 'needs_manual', 'failed')),
        refund_id      TEXT,
        -- After NOTENOUGH, when the merchant allows it: send from 可用余额 instead.
        from_recharge  INTEGER NOT NULL DEFAULT 0 CHECK (from_recharge IN (0, 1)),
        attempts       INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        -- The last problem (a lifecycle::Problem code) and WeChat's own words about it.
        problem        TEXT,
        wechat_detail  TEXT,
        -- WeChat refused the last send with this problem: failed once a query finds no record.
        refused        TEXT,
        -- WeChat's evidence (a notification) overrode a refund the desk held as failed.
        contradicted   INTEGER NOT NULL DEFAULT 0 CHECK (contradicted IN (0, 1)),
        approved_by    TEXT NOT NULL,
        approved_at    INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL
    ) STRICT;
    INSERT INTO refunds_v3 (id, request, out_trade_no, out_refund_no, refund_fee, state, refund_id,
                            from_recharge, attempts, next_attempt_at, problem, wechat_detail, refused,
                            contradicted, approved_by, approved_at, updated_at)
        SELECT id, request, out_trade_no, out_refund_no, refund_fee,
               CASE WHEN state = 'failed' OR (state = 'approved' AND attempts > 0) THEN 'submitting' ELSE state END,
               refund_id, from_recharge, attempts,
               CASE WHEN state = 'failed' THEN 0 ELSE next_attempt_at END,
               NULL, COALESCE(failure_reason, last_error),
               CASE WHEN state = 'failed' THEN 'business_error' END,
               0, approved_by, approved_at, updated_at
        FROM refunds;
    DROP TABLE refunds;
    ALTER TABLE refunds_v3 RENAME TO refunds;
    CREATE INDEX refunds_by_order ON refunds (out_trade_no);
    CREATE INDEX refunds_by_state ON refunds (state, next_attempt_at);
    -- The engine's look for due work reads only refunds it acts on by itself, soonest first.
    CREATE INDEX refunds_due ON refunds (COALESCE(next_attempt_at, 0), id)
        WHERE state IN ('approved', 'submitting', 'processing');

    CREATE TRIGGER queue_state_of_decision AFTER UPDATE OF state ON refund_requests BEGIN
        UPDATE refund_requests
        SET queue_state = COALESCE((SELECT r.state FROM refunds r WHERE r.request = NEW.id), NEW.state)
        WHERE id = NEW.id;
    END;
    CREATE TRIGGER queue_state_of_new_refund AFTER INSERT ON refunds BEGIN
        UPDATE refund_requests SET queue_state = NEW.state WHERE id = NEW.request;
    END;
    CREATE TRIGGER queue_state_of_refund AFTER UPDATE OF state ON refunds BEGIN
        UPDATE refund_requests SET queue_state = NEW.state WHERE id = NEW.request;
    END;
    UPDATE refund_requests SET queue_state = (SELECT r.state FROM refunds r WHERE r.request = refund_requests.id)
        WHERE id IN (SELECT request FROM refunds);
    "#,
    // 4: the alert outbox. Every fact staff must hear of gets its row from a trigger, in the
    // same transaction as the fact, so a crash loses none; the alerter delivers from here
    // (`shown_at`), and someone acknowledging marks it `seen_at`. Orders and requests get theirs
    // from the triggers below; a refund's (final, held or contradicted) from the one step every
    // refund state change goes through (`work.rs`), which knows its problem.
    r#"
    CREATE TABLE alerts (
        id             INTEGER PRIMARY KEY,
        kind           TEXT NOT NULL CHECK (kind IN ('order_paid', 'refund_requested',
                           'refund_succeeded', 'refund_failed', 'refund_needs_manual', 'refund_held',
                           'refund_contradicted')),
        out_trade_no   TEXT NOT NULL,
        request        INTEGER,
        refund         INTEGER,
        amount         INTEGER NOT NULL,
        -- A refund's problem (a lifecycle::Problem code).
        problem        TEXT,
        -- When it happened: the payment's time for an order, else when the desk recorded it.
        at             INTEGER NOT NULL,
        shown_at       INTEGER,
        seen_at        INTEGER
    ) STRICT;
    CREATE INDEX alerts_unshown ON alerts (id) WHERE shown_at IS NULL;
    CREATE INDEX alerts_unseen ON alerts (kind, id) WHERE seen_at IS NULL;
    -- The today board's refunds: those that succeeded in a day, without reading the others.
    CREATE INDEX refunds_succeeded_at ON refunds (updated_at) WHERE state = 'succeeded';

    CREATE TRIGGER alert_of_order AFTER INSERT ON orders BEGIN
        INSERT INTO alerts (kind, out_trade_no, amount, at)
        VALUES ('order_paid', NEW.out_trade_no, NEW.total_fee, NEW.paid_at);
    END;
    CREATE TRIGGER alert_of_request AFTER INSERT ON refund_requests WHEN NEW.state = 'pending' BEGIN
        INSERT INTO alerts (kind, out_trade_no, request, amount, at)
        VALUES ('refund_requested', NEW.out_trade_no, NEW.id, NEW.requested_fee, NEW.created_at);
    END;
    "#,
    // 5: what the intake refused, counted by door and cause an hour at a time, and the alarms
    // raised when genuine traffic keeps failing verification (the desk's API key no longer
    // matches 商户平台, the shop's backend still signs with a replaced secret). `watch.rs`.
    r#"
    CREATE TABLE refusals (
        hour           INTEGER NOT NULL,
        door           TEXT NOT NULL CHECK (door IN ('payment_notify', 'refund_notify', 'backend')),
        cause          TEXT NOT NULL,
        count          INTEGER NOT NULL CHECK (count > 0),
        PRIMARY KEY (hour, door, cause)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE alarms (
        id             INTEGER PRIMARY KEY,
        cause          TEXT NOT NULL CHECK (cause IN ('api_key_mismatch', 'backend_old_secret')),
        raised_at      INTEGER NOT NULL,
        last_at        INTEGER NOT NULL,
        -- The refusals it explains since it was raised.
        count          INTEGER NOT NULL,
        notified_at    INTEGER,
        resolved_at    INTEGER
    ) STRICT;
    CREATE UNIQUE INDEX alarms_active ON alarms (cause) WHERE resolved_at IS NULL;
    "#,
    // 6: how far the desk has read the shop's log on the relay (`relay_position.rs`): stored
    // after each entry is taken, so a restart, a reconnect or a night off resumes there.
    r#"
    CREATE TABLE relay_positions (
        -- The relay and shop read: pairing with another starts from its beginning.
        source         TEXT PRIMARY KEY,
        seq            INTEGER NOT NULL CHECK (seq >= 0),
        updated_at     INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    "#,
    // 7: the refund requests whose record changed since the owner's desk last sent it to the
    // relay for the staff desks (`mirror.rs`): kept by triggers in the change's transaction, so
    // no code path can forget one; `version` tells a send apart from a change made during it.
    r#"
    CREATE TABLE relay_outbox (
        request        INTEGER PRIMARY KEY,
        version        INTEGER NOT NULL
    ) STRICT;
    CREATE TRIGGER relay_outbox_of_new_request AFTER INSERT ON refund_requests BEGIN
        INSERT INTO relay_outbox (request, version) VALUES (NEW.id, 1)
            ON CONFLICT (request) DO UPDATE SET version = version + 1;
    END;
    CREATE TRIGGER relay_outbox_of_request AFTER UPDATE ON refund_requests BEGIN
        INSERT INTO relay_outbox (request, version) VALUES (NEW.id, 1)
            ON CONFLICT (request) DO UPDATE SET version = version + 1;
    END;
    CREATE TRIGGER relay_outbox_of_new_refund AFTER INSERT ON refunds BEGIN
        INSERT INTO relay_outbox (request, version) VALUES (NEW.request, 1)
            ON CONFLICT (request) DO UPDATE SET version = version + 1;
    END;
    CREATE TRIGGER relay_outbox_of_refund AFTER UPDATE ON refunds BEGIN
        INSERT INTO relay_outbox (request, version) VALUES (NEW.request, 1)
            ON CONFLICT (request) DO UPDATE SET version = version + 1;
    END;
    -- The queue from before: sent once the desk has a relay, so staff desks show all of it.
    INSERT INTO relay_outbox (request, version) SELECT id, 1 FROM refund_requests;
    "#,
    // 8: the relay trusted to deliver, nothing more. `mirror_of` marks a staff desk's copy of
    // the owner's queue, which no refund engine runs on (`mirror.rs`); `relay_positions.digest`
    // is the entry taken last, so a log that went back (a restored or failed-over relay) is
    // seen at the next connection; `relay_parked` holds entries waiting for an outside answer
    // (WeChat unreachable, the desk's key in doubt) without holding up those after them
    // (`relay_position.rs`); `signed_conflict` is the alarm for a message signed with the
    // merchant's key that contradicts what WeChat said (`watch.rs`). `refund_requests.revision`
    // grows with every change of a request or its refund, so a staff desk applies the owner's
    // records in the order they were made, however the relay delivers them (`mirrored` holds
    // the owner's revision each request was last mirrored at).
    r#"
    CREATE TABLE mirror_of (
        id             INTEGER PRIMARY KEY CHECK (id = 1),
        since          INTEGER NOT NULL
    ) STRICT;

    ALTER TABLE relay_positions ADD COLUMN digest TEXT;

    CREATE TABLE relay_parked (
        source         TEXT NOT NULL,
        seq            INTEGER NOT NULL,
        -- The entry as the relay sent it (JSON).
        entry          TEXT NOT NULL,
        parked_at      INTEGER NOT NULL,
        attempts       INTEGER NOT NULL DEFAULT 0,
        next_at        INTEGER NOT NULL,
        PRIMARY KEY (source, seq)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE alarms_v8 (
        id             INTEGER PRIMARY KEY,
        cause          TEXT NOT NULL CHECK (cause IN ('api_key_mismatch', 'backend_old_secret', 'signed_conflict')),
        raised_at      INTEGER NOT NULL,
        last_at        INTEGER NOT NULL,
        count          INTEGER NOT NULL,
        notified_at    INTEGER,
        resolved_at    INTEGER
    ) STRICT;
    INSERT INTO alarms_v8 (id, cause, raised_at, last_at, count, notified_at, resolved_at)
        SELECT id, cause, raised_at, last_at, count, notified_at, resolved_at FROM alarms;
    DROP TABLE alarms;
    ALTER TABLE alarms_v8 RENAME TO alarms;
    CREATE UNIQUE INDEX alarms_active ON alarms (cause) WHERE resolved_at IS NULL;

    ALTER TABLE refund_requests ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
    CREATE TRIGGER revision_of_request AFTER UPDATE ON refund_requests
        WHEN NEW.revision = OLD.revision BEGIN
        UPDATE refund_requests SET revision = OLD.revision + 1 WHERE id = NEW.id;
    END;
    CREATE TRIGGER revision_of_new_refund AFTER INSERT ON refunds BEGIN
        UPDATE refund_requests SET revision = revision + 1 WHERE id = NEW.request;
    END;
    CREATE TRIGGER revision_of_refund AFTER UPDATE ON refunds BEGIN
        UPDATE refund_requests SET revision = revision + 1 WHERE id = NEW.request;
    END;
    CREATE TABLE mirrored (
        request        INTEGER PRIMARY KEY,
        revision       INTEGER NOT NULL
    ) STRICT;
    "#,
];
