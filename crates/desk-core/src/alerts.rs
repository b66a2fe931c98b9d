//! The alert outbox: one row for every fact staff must hear of (a paid order, a refund request,
//! a refund that ended, was held or was contradicted by WeChat), written in the same transaction
//! as the fact. The alerter (desk-runtime) delivers unshown rows at least once and marks them
//! shown; acknowledging marks them seen. The in-memory events only wake it.
//!
//! Rows come from the triggers of migration 4 (orders, requests) and from [`record_refund`],
//! called by the one step every refund state change goes through.

use rusqlite::{Connection, params};
use wxpay::Fen;

use crate::error::CoreError;
use crate::events::DeskEvent;
use crate::lifecycle::{Problem, RefundState};
use crate::store::Store;
use crate::work::parse_problem;

/// What an alert is about, as stored in `alerts.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    OrderPaid,
    RefundRequested,
    RefundSucceeded,
    RefundFailed,
    RefundNeedsManual,
    RefundHeld,
    /// WeChat paid a refund the desk held as failed.
    RefundContradicted,
}

impl AlertKind {
    pub const ALL: [AlertKind; 7] = [
        AlertKind::OrderPaid,
        AlertKind::RefundRequested,
        AlertKind::RefundSucceeded,
        AlertKind::RefundFailed,
        AlertKind::RefundNeedsManual,
        AlertKind::RefundHeld,
        AlertKind::RefundContradicted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::OrderPaid => "order_paid",
            AlertKind::RefundRequested => "refund_requested",
            AlertKind::RefundSucceeded => "refund_succeeded",
            AlertKind::RefundFailed => "refund_failed",
            AlertKind::RefundNeedsManual => "refund_needs_manual",
            AlertKind::RefundHeld => "refund_held",
            AlertKind::RefundContradicted => "refund_contradicted",
        }
    }

    pub fn parse(text: &str) -> Option<AlertKind> {
        AlertKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }

    /// The alert a refund reaching `state` raises, if any.
    pub fn of_refund(state: RefundState, contradicted: bool) -> Option<AlertKind> {
        match state {
            RefundState::Succeeded if contradicted => Some(AlertKind::RefundContradicted),
            RefundState::Succeeded => Some(AlertKind::RefundSucceeded),
            RefundState::Failed => Some(AlertKind::RefundFailed),
            RefundState::NeedsManual => Some(AlertKind::RefundNeedsManual),
            RefundState::Held => Some(AlertKind::RefundHeld),
            RefundState::Approved
            | RefundState::Submitting
            | RefundState::Processing
            | RefundState::Closed => None,
        }
    }
}

/// One row of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAlert {
    pub id: i64,
    pub kind: AlertKind,
    pub out_trade_no: String,
    /// The refund request it is about (refund kinds and requests).
    pub request: Option<i64>,
    pub refund: Option<i64>,
    /// The order's total, or the refund's amount.
    pub amount: Fen,
    pub problem: Option<Problem>,
    /// When it happened: the payment's time for an order.
    pub at: i64,
}

/// What is waiting for acknowledgement, for a reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unseen {
    pub orders: i64,
    pub total: Fen,
    /// The newest unseen order's alert.
    pub latest: Option<i64>,
}

/// Writes the alert for the refund change `event` (inside its transaction), when it raises one.
pub(crate) fn record_refund(tx: &Connection, event: &DeskEvent, now: i64) -> Result<(), CoreError> {
    let DeskEvent::RefundChanged {
        refund,
        request,
        out_trade_no,
        refund_fee,
        state,
        problem,
        contradicted,
        ..
    } = event
    else {
        return Ok(());
    };
    let Some(kind) = AlertKind::of_refund(*state, *contradicted) else {
        return Ok(());
    };
    tx.prepare_cached(
        "INSERT INTO alerts (kind, out_trade_no, request, refund, amount, problem, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        kind.as_str(),
        out_trade_no,
        request,
        refund,
        refund_fee.get(),
        problem.map(Problem::as_str),
        now
    ])?;
    Ok(())
}

const COLUMNS: &str = "id, kind, out_trade_no, request, refund, amount, problem, at";

fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<StoredAlert, CoreError>> {
    let kind: String = row.get(1)?;
    let problem: Option<String> = row.get(6)?;
    let alert = (|| -> Result<StoredAlert, CoreError> {
        Ok(StoredAlert {
            id: row.get(0)?,
            kind: AlertKind::parse(&kind).ok_or_else(|| CoreError::UnknownState(kind.clone()))?,
            out_trade_no: row.get(2)?,
            request: row.get(3)?,
            refund: row.get(4)?,
            amount: Fen::new(row.get(5)?),
            problem: problem.map(parse_problem).transpose()?,
            at: row.get(7)?,
        })
    })();
    Ok(alert)
}

impl Store {
    /// Alerts not shown yet with an id above `after`, oldest first, at most `limit`.
    pub fn unshown_alerts(&self, after: i64, limit: usize) -> Result<Vec<StoredAlert>, CoreError> {
        self.read_outbox(|conn| {
            let mut statement = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM alerts WHERE shown_at IS NULL AND id > ?1 ORDER BY id LIMIT ?2"
            ))?;
            let rows = statement.query_map(params![after, limit as i64], from_row)?;
            rows.map(|row| row?).collect()
        })
    }

    /// The newest alert's id (0 when there is none).
    pub fn last_alert(&self) -> Result<i64, CoreError> {
        self.read(|conn| {
            Ok(
                conn.query_row("SELECT COALESCE(MAX(id), 0) FROM alerts", [], |row| {
                    row.get(0)
                })?,
            )
        })
    }

    /// Marks every alert up to `through` delivered (the deliverer read them all, oldest first).
    pub fn mark_alerts_shown(&self, through: i64, now: i64) -> Result<(), CoreError> {
        self.write(|tx| {
            tx.prepare_cached(
                "UPDATE alerts SET shown_at = ?2 WHERE shown_at IS NULL AND id <= ?1",
            )?
            .execute(params![through, now])?;
            Ok(())
        })
    }

    /// Someone looked: every alert up to `up_to` is seen (and shown), so reminders stop.
    /// Returns how many were waiting.
    pub fn acknowledge_alerts(&self, up_to: i64, now: i64) -> Result<usize, CoreError> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE alerts SET seen_at = ?2, shown_at = COALESCE(shown_at, ?2)
                 WHERE seen_at IS NULL AND id <= ?1",
                params![up_to, now],
            )?;
            Ok(changed)
        })
    }

    /// Paid orders shown but not yet acknowledged, for "repeat until acknowledged".
    pub fn unseen_orders(&self) -> Result<Unseen, CoreError> {
        self.read_outbox(|conn| {
            let (orders, total, latest): (i64, i64, Option<i64>) = conn
                .prepare_cached(
                    "SELECT COUNT(*), COALESCE(SUM(amount), 0), MAX(id) FROM alerts
                     WHERE kind = 'order_paid' AND seen_at IS NULL AND shown_at IS NOT NULL",
                )?
                .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
            Ok(Unseen {
                orders,
                total: Fen::new(total),
                latest,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_code() {
        for kind in AlertKind::ALL {
            assert_eq!(AlertKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(AlertKind::parse("order"), None);
    }

    #[test]
    fn only_final_held_and_contradicted_refunds_alert() {
        for state in RefundState::ALL {
            let expected = matches!(
                state,
                RefundState::Succeeded
                    | RefundState::Failed
                    | RefundState::NeedsManual
                    | RefundState::Held
            );
            assert_eq!(
                AlertKind::of_refund(state, false).is_some(),
                expected,
                "{state:?}"
            );
        }
        assert_eq!(
            AlertKind::of_refund(RefundState::Succeeded, true),
            Some(AlertKind::RefundContradicted)
        );
    }
}
