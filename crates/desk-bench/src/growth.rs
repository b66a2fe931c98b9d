//! What every screen and the intake ask of the database, and what each statement costs as the
//! database grows: the growth test holds that no statement's cost grows with the table, and the
//! growth benchmark reports the times and plans from 10k to 1M orders.

use std::collections::BTreeMap;

use desk_core::{
    Approver, NewRequest, Payment, PaymentSource, QueueQuery, QueueState, StatementCost, Store,
};
use wxpay::{Fen, OutTradeNo, TransactionId};

use crate::seed::{Shop, order_no};

/// The queue's tabs as the window shows them.
pub const TABS: [(&str, &[QueueState]); 6] = [
    ("pending", &[QueueState::Pending]),
    (
        "working",
        &[
            QueueState::Approved,
            QueueState::Submitting,
            QueueState::Processing,
        ],
    ),
    ("succeeded", &[QueueState::Succeeded]),
    (
        "attention",
        &[
            QueueState::Failed,
            QueueState::NeedsManual,
            QueueState::Closed,
        ],
    ),
    ("rejected", &[QueueState::Rejected, QueueState::Withdrawn]),
    ("all", &[]),
];

/// Rows a screen asks for at once.
pub const PAGE: usize = 100;

/// One user action and the statements it ran.
#[derive(Debug, Clone)]
pub struct Action {
    pub name: String,
    pub statements: Vec<StatementCost>,
    /// Wall time, as the caller waits for it (SQLite's own statement times are in whole ms).
    pub took: std::time::Duration,
}

impl Action {
    pub fn micros(&self) -> f64 {
        self.took.as_secs_f64() * 1e6
    }
}

/// Runs, on a database seeded with `shop`, everything a person or WeChat triggers: every tab
/// and its next page, searches, counts, an order's detail, the logs, a new payment and its
/// duplicate, a refund request, an approval, a rejection and the engine's look for due work.
pub fn user_actions(
    store: &Store,
    shop: Shop,
    now: i64,
) -> Result<Vec<Action>, desk_core::CoreError> {
    let mut actions = Vec::new();
    let mut run = |name: &str, f: &dyn Fn(&Store) -> Result<(), desk_core::CoreError>| {
        let started = std::time::Instant::now();
        let (result, statements) = store.profile(f);
        actions.push(Action {
            name: name.to_owned(),
            statements,
            took: started.elapsed(),
        });
        result
    };
    for (tab, states) in TABS {
        let query = QueueQuery {
            states: states.to_vec(),
            limit: PAGE,
            ..QueueQuery::default()
        };
        run(&format!("queue tab {tab}"), &|s| {
            s.queue_page(&query).map(drop)
        })?;
        let last = store.queue_page(&query)?.last().map(|item| item.request);
        let next = QueueQuery {
            before: last,
            ..query.clone()
        };
        run(&format!("queue tab {tab}, next page"), &|s| {
            s.queue_page(&next).map(drop)
        })?;
    }
    let newest = order_no(shop.orders - 1);
    let narrow = QueueQuery {
        search: Some(newest[..newest.len() - 1].to_owned()),
        limit: PAGE,
        ..QueueQuery::default()
    };
    run("queue search, one order", &|s| {
        s.queue_page(&narrow).map(drop)
    })?;
    let broad = QueueQuery {
        search: Some("SEED".to_owned()),
        states: vec![QueueState::Pending],
        limit: PAGE,
        ..QueueQuery::default()
    };
    run("queue search, every order, pending tab", &|s| {
        s.queue_page(&broad).map(drop)
    })?;
    run("queue counts", &|s| s.queue_counts().map(drop))?;
    let pending = store.queue(Some(QueueState::Pending), 2)?;
    let (first, second) = match pending.as_slice() {
        [a, b, ..] => (a.request, b.request),
        _ => {
            // The seed always has pending requests; without them there is nothing to measure.
            return Err(desk_core::CoreError::RequestNotFound(0));
        }
    };
    run("request detail", &|s| s.queue_item(first).map(drop))?;
    run("orders, newest", &|s| s.orders(None, PAGE).map(drop))?;
    run("orders search", &|s| {
        s.orders(Some(&newest[..newest.len() - 2]), PAGE).map(drop)
    })?;
    run("order detail", &|s| {
        s.order(&newest)?;
        s.order_requests(&newest).map(drop)
    })?;
    run("today board", &|s| {
        s.day_board(now - now.rem_euclid(86_400), 8).map(drop)
    })?;
    run("audit log", &|s| s.audit_log(PAGE).map(drop))?;
    run("exchange log", &|s| s.exchanges(PAGE).map(drop))?;
    let payment = Payment {
        out_trade_no: OutTradeNo::new("GROWTH1").map_err(desk_core::CoreError::BadId)?,
        transaction_id: TransactionId::new("4200000000GROWTH1")
            .map_err(desk_core::CoreError::BadId)?,
        total_fee: Fen::new(9_900),
        paid_at: now,
        openid: None,
        trade_type: Some("JSAPI".into()),
        attach: None,
        source: PaymentSource::Notification,
    };
    run("payment notification, new", &|s| {
        s.record_payment(&payment, now).map(drop)
    })?;
    run("payment notification, repeated", &|s| {
        s.record_payment(&payment, now).map(drop)
    })?;
    let request = NewRequest {
        request_id: Some("growth-1".into()),
        out_trade_no: payment.out_trade_no.clone(),
        refund_fee: Fen::new(1_000),
        reason: "尺码不合适".into(),
        customer: None,
    };
    run("refund request", &|s| {
        s.add_request(&request, now).map(drop)
    })?;
    let owner = Approver {
        name: "owner".into(),
        limit: None,
    };
    run("approve", &|s| {
        s.approve(first, None, &owner, now).map(drop)
    })?;
    run("reject", &|s| {
        s.reject(second, "已超过退货期", "owner", now)
    })?;
    run("engine: due work", &|s| s.due_count(now, 32).map(drop))?;
    Ok(actions)
}

/// The most VM steps each statement took, by its SQL.
pub fn steps_by_statement(actions: &[Action]) -> BTreeMap<String, (String, i32)> {
    let mut steps = BTreeMap::new();
    for action in actions {
        for statement in &action.statements {
            let entry = steps
                .entry(statement.sql.clone())
                .or_insert_with(|| (action.name.clone(), 0));
            entry.1 = entry.1.max(statement.vm_steps);
        }
    }
    steps
}
