//! A shop's history written straight into a desk database: paid orders, refund requests in
//! every state of the queue, their refunds, the audit and exchange logs. Test data for the growth
//! test and the benchmarks, written in one transaction through a connection of its own (the
//! desk's triggers keep the queue's states and counts, as they do for the desk's own writes).

use std::path::Path;

use desk_core::Store;
use rusqlite::{Connection, params};

use crate::error::BenchError;

/// What a seeded database holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shop {
    pub orders: usize,
    /// Refund requests, at most one per order, on the newest orders.
    pub requests: usize,
}

/// Seeded order `i`'s number.
pub fn order_no(i: usize) -> String {
    format!("SEED{i:010}")
}

/// The states of the queue, in proportions a busy shop might see: most requests end refunded,
/// a fifth wait, a few are being worked on or need attention.
const MIX: [(&str, Option<&str>); 20] = [
    ("pending", None),
    ("pending", None),
    ("pending", None),
    ("pending", None),
    ("rejected", None),
    ("withdrawn", None),
    ("approved", Some("processing")),
    ("approved", Some("approved")),
    ("approved", Some("failed")),
    ("approved", Some("needs_manual")),
    ("approved", Some("closed")),
    ("approved", Some("succeeded")),
    ("approved", Some("succeeded")),
    ("approved", Some("succeeded")),
    ("approved", Some("succeeded")),
    ("approved", Some("succeeded")),
    ("approved", Some("succeeded")),
    ("approved", Some("succeeded")),
    ("approved", Some("succeeded")),
    ("approved", Some("succeeded")),
];

/// Creates (migrating) the desk database at `path` and fills it with `shop`, paid over the
/// `shop.orders` minutes before `now`.
pub fn seed(path: &Path, shop: Shop, now: i64) -> Result<(), BenchError> {
    drop(Store::open(path)?);
    let mut conn = Connection::open(path)?;
    let tx = conn.transaction()?;
    {
        let mut order = tx.prepare(
            "INSERT INTO orders (out_trade_no, transaction_id, total_fee, paid_at, openid, trade_type, source, recorded_at)
             VALUES (?1, ?2, ?3, ?4, 'oSeedCustomer', 'JSAPI', 'notification', ?4)",
        )?;
        let mut request = tx.prepare(
            "INSERT INTO refund_requests (request_id, out_trade_no, requested_fee, reason, customer, state, decided_by, decided_at, reject_reason, created_at)
             VALUES (?1, ?2, ?3, '尺码不合适', '顾客', ?4, ?5, ?6, ?7, ?6)",
        )?;
        let mut refund = tx.prepare(
            "INSERT INTO refunds (request, out_trade_no, out_refund_no, refund_fee, state, refund_id, attempts, next_attempt_at, approved_by, approved_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, 'owner', ?8, ?8)",
        )?;
        let mut exchange = tx.prepare(
            "INSERT INTO exchanges (at, endpoint, refund, request, outcome) VALUES (?1, 'refund', ?2, 'RefundRequest { .. }', 'ok')",
        )?;
        let mut audit = tx.prepare(
            "INSERT INTO audit_log (at, actor, action, out_trade_no, request, amount) VALUES (?1, 'owner', ?2, ?3, ?4, ?5)",
        )?;
        let first_request = shop.orders.saturating_sub(shop.requests);
        for i in 0..shop.orders {
            let no = order_no(i);
            let fee = 100 + (i as i64 * 37) % 50_000;
            let paid_at = now - (shop.orders - i) as i64 * 60;
            order.execute(params![no, format!("4200{i:020}"), fee, paid_at])?;
            if i < first_request {
                continue;
            }
            let (state, refund_state) = MIX[i % MIX.len()];
            let decided = state != "pending";
            let at = paid_at + 30;
            request.execute(params![
                format!("seed-{i}"),
                no,
                fee,
                state,
                decided.then_some("owner"),
                at,
                (state == "rejected").then_some("已超过退货期"),
            ])?;
            let request_row = tx.last_insert_rowid();
            if decided {
                audit.execute(params![
                    at,
                    if state == "approved" {
                        "approve"
                    } else {
                        "reject"
                    },
                    no,
                    request_row,
                    fee
                ])?;
            }
            if let Some(refund_state) = refund_state {
                let active = matches!(refund_state, "approved" | "processing");
                refund.execute(params![
                    request_row,
                    no,
                    format!("MD{request_row}-seed"),
                    fee,
                    refund_state,
                    (refund_state != "approved").then(|| format!("5030{i:020}")),
                    // Work still due is due in an hour: the engine leaves it alone meanwhile.
                    active.then_some(now + 3_600),
                    at,
                ])?;
                exchange.execute(params![at, tx.last_insert_rowid()])?;
            }
        }
        // The shop has seen its history: no alert waits (the triggers wrote one per row).
        tx.execute(
            "UPDATE alerts SET shown_at = ?1, seen_at = ?1",
            params![now],
        )?;
    }
    tx.commit()?;
    Ok(())
}
