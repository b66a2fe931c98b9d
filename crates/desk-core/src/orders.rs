//! Paid orders, learned from verified payment notifications or from order queries.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use wxpay::{Fen, OutTradeNo, TransactionId};

use crate::error::CoreError;
use crate::events::DeskEvent;
use crate::store::Store;

/// How the desk learned of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentSource {
    Notification,
    OrderQuery,
}

impl PaymentSource {
    fn as_str(self) -> &'static str {
        match self {
            PaymentSource::Notification => "notification",
            PaymentSource::OrderQuery => "order_query",
        }
    }
}

/// A payment WeChat has confirmed (the caller verified the signature and the merchant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub out_trade_no: OutTradeNo,
    pub transaction_id: TransactionId,
    pub total_fee: Fen,
    /// Unix seconds.
    pub paid_at: i64,
    pub openid: Option<String>,
    pub trade_type: Option<String>,
    pub attach: Option<String>,
    pub source: PaymentSource,
}

/// Whether a report of a payment was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    /// Already stored (WeChat resends notifications for a day, sometimes several at once).
    Duplicate,
}

/// An order as the queue shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Order {
    pub out_trade_no: String,
    pub transaction_id: String,
    pub total_fee: Fen,
    pub paid_at: i64,
    /// Refunds that moved or may still move money (everything but closed and failed).
    pub committed: Fen,
    pub refundable: Fen,
    pub refund_count: i64,
}

impl Store {
    /// Stores a payment once. A repeat with the same details is a duplicate; a report that
    /// contradicts the stored one (another amount or transaction) is refused.
    pub fn record_payment(&self, payment: &Payment, now: i64) -> Result<Recorded, CoreError> {
        self.write(|tx| insert_payment(tx, payment, now))
            .inspect(|recorded| self.announce_payment(payment, *recorded))
    }

    /// Stores payments as [`Store::record_payment`] does, all in one transaction: one commit
    /// (one sync to disk) for a burst of notifications. Each payment has a savepoint of its own,
    /// so one refused payment leaves the others stored; a failed commit fails them all.
    pub fn record_payments(
        &self,
        payments: &[Payment],
        now: i64,
    ) -> Vec<Result<Recorded, CoreError>> {
        let committed = self.write(|tx| {
            let mut results = Vec::with_capacity(payments.len());
            for payment in payments {
                tx.execute_batch("SAVEPOINT payment")?;
                let result = insert_payment(tx, payment, now);
                tx.execute_batch(if result.is_ok() {
                    "RELEASE payment"
                } else {
                    "ROLLBACK TO payment; RELEASE payment"
                })?;
                results.push(result);
            }
            Ok::<_, CoreError>(results)
        });
        match committed {
            Ok(results) => {
                for (payment, result) in payments.iter().zip(&results) {
                    if let Ok(recorded) = result {
                        self.announce_payment(payment, *recorded);
                    }
                }
                results
            }
            Err(error) => {
                let error = std::sync::Arc::new(error);
                payments
                    .iter()
                    .map(|_| Err(CoreError::Batch(error.clone())))
                    .collect()
            }
        }
    }

    fn announce_payment(&self, payment: &Payment, recorded: Recorded) {
        if recorded == Recorded::New {
            self.publish(DeskEvent::OrderPaid {
                out_trade_no: payment.out_trade_no.to_string(),
                total_fee: payment.total_fee,
                paid_at: payment.paid_at,
            });
        }
    }

    /// The order number of a transaction the desk knows.
    pub fn order_by_transaction(&self, transaction_id: &str) -> Result<Option<String>, CoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT out_trade_no FROM orders WHERE transaction_id = ?1",
                [transaction_id],
                |row| row.get(0),
            )
            .optional()
            .map_err(CoreError::from)
        })
    }

    pub fn order(&self, out_trade_no: &str) -> Result<Option<Order>, CoreError> {
        self.read(|conn| load_order(conn, out_trade_no).map_err(CoreError::from))
    }
}

/// The upper bound of the range of text starting with `prefix` (`>= prefix AND < end`): an
/// index walk where `LIKE 'prefix%'` would scan.
pub(crate) fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// The payment's row, inside the caller's transaction.
fn insert_payment(tx: &Connection, payment: &Payment, now: i64) -> Result<Recorded, CoreError> {
    if !payment.total_fee.is_positive() {
        return Err(CoreError::AmountNotPositive);
    }
    let existing: Option<(String, String, i64)> = tx
        .prepare_cached(
            "SELECT out_trade_no, transaction_id, total_fee FROM orders
             WHERE out_trade_no = ?1 OR transaction_id = ?2",
        )?
        .query_row(
            params![
                payment.out_trade_no.as_str(),
                payment.transaction_id.as_str()
            ],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    if let Some((out_trade_no, transaction_id, total_fee)) = existing {
        let detail = if out_trade_no != payment.out_trade_no.as_str() {
            "the transaction belongs to another order"
        } else if transaction_id != payment.transaction_id.as_str() {
            "another transaction id"
        } else if total_fee != payment.total_fee.get() {
            "another amount"
        } else {
            return Ok(Recorded::Duplicate);
        };
        return Err(CoreError::PaymentConflict {
            out_trade_no: payment.out_trade_no.to_string(),
            detail,
        });
    }
    tx.prepare_cached(
        "INSERT INTO orders (out_trade_no, transaction_id, total_fee, paid_at, openid, trade_type, attach, source, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        payment.out_trade_no.as_str(),
        payment.transaction_id.as_str(),
        payment.total_fee.get(),
        payment.paid_at,
        payment.openid,
        payment.trade_type,
        payment.attach,
        payment.source.as_str(),
        now
    ])?;
    Ok(Recorded::New)
}

/// An order with what its refunds hold. The one definition of "committed": every refund that
/// moved or may still move money, which is all of them but closed and failed ones. The approval
/// guard reads the same row inside its transaction.
const ORDER_SELECT: &str = "SELECT o.out_trade_no, o.transaction_id, o.total_fee, o.paid_at,
        COALESCE((SELECT SUM(refund_fee) FROM refunds r
                  WHERE r.out_trade_no = o.out_trade_no AND r.state NOT IN ('closed', 'failed')), 0),
        (SELECT COUNT(*) FROM refunds r WHERE r.out_trade_no = o.out_trade_no)
 FROM orders o";

pub(crate) fn load_order(conn: &Connection, out_trade_no: &str) -> rusqlite::Result<Option<Order>> {
    conn.query_row(
        &format!("{ORDER_SELECT} WHERE o.out_trade_no = ?1"),
        [out_trade_no],
        order_row,
    )
    .optional()
}

fn order_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Order> {
    let total_fee = Fen::new(row.get(2)?);
    let committed = Fen::new(row.get(4)?);
    Ok(Order {
        out_trade_no: row.get(0)?,
        transaction_id: row.get(1)?,
        total_fee,
        paid_at: row.get(3)?,
        committed,
        refundable: total_fee
            .checked_sub(committed)
            .map_or(Fen::ZERO, |r| r.max(Fen::ZERO)),
        refund_count: row.get(5)?,
    })
}

impl Store {
    /// The most recently paid orders first; `search` keeps those whose order number or
    /// transaction id starts with it (the first `limit` of each, by number, then newest first).
    /// Each read walks an index for just the rows it returns.
    pub fn orders(&self, search: Option<&str>, limit: usize) -> Result<Vec<Order>, CoreError> {
        self.read(|conn| {
            let collect = |statement: &mut rusqlite::CachedStatement<'_>,
                           args: &[&dyn rusqlite::ToSql]| {
                statement
                    .query_map(args, order_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            };
            let limit = limit as i64;
            let Some(prefix) = search.filter(|p| !p.is_empty()) else {
                let mut newest = conn.prepare_cached(&format!(
                    "{ORDER_SELECT} ORDER BY o.paid_at DESC, o.out_trade_no LIMIT ?1"
                ))?;
                return collect(&mut newest, &[&limit]).map_err(CoreError::from);
            };
            // Prefix ranges use the primary key and the unique index; a LIKE would scan.
            let end = prefix_end(prefix);
            let mut by_number = conn.prepare_cached(&format!(
                "{ORDER_SELECT} WHERE o.out_trade_no >= ?1 AND o.out_trade_no < ?2
                 ORDER BY o.out_trade_no LIMIT ?3"
            ))?;
            let mut found = collect(&mut by_number, &[&prefix, &end, &limit])?;
            let mut by_transaction = conn.prepare_cached(&format!(
                "{ORDER_SELECT} WHERE o.transaction_id >= ?1 AND o.transaction_id < ?2
                 ORDER BY o.transaction_id LIMIT ?3"
            ))?;
            for order in collect(&mut by_transaction, &[&prefix, &end, &limit])? {
                if !found.iter().any(|o| o.out_trade_no == order.out_trade_no) {
                    found.push(order);
                }
            }
            found.sort_by(|a, b| {
                b.paid_at
                    .cmp(&a.paid_at)
                    .then_with(|| a.out_trade_no.cmp(&b.out_trade_no))
            });
            found.truncate(limit as usize);
            Ok(found)
        })
    }
}
