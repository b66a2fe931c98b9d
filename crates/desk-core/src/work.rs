//! The refunds table as the engine sees it: what is due, and each step as a conditional update.

use rusqlite::{OptionalExtension, params};
use wxpay::{Fen, OutRefundNo, OutTradeNo, RefundNotification, RefundStatus, TransactionId};

use crate::error::CoreError;
use crate::events::DeskEvent;
use crate::refunds::RefundState;
use crate::store::Store;

/// A refund the engine has to act on now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueRefund {
    pub id: i64,
    pub state: RefundState,
    pub out_refund_no: OutRefundNo,
    pub out_trade_no: OutTradeNo,
    pub transaction_id: TransactionId,
    /// The order's total (WeChat wants it with every refund).
    pub total_fee: Fen,
    pub refund_fee: Fen,
    pub attempts: i64,
    /// Send from recharge funds (可用余额) after the unsettled funds ran short.
    pub from_recharge: bool,
    /// When the refund last changed state (for processing ones: when WeChat accepted it).
    pub since: i64,
}

impl Store {
    /// Refunds waiting to be sent, followed up or recovered, whose time has come.
    pub fn due_refunds(&self, now: i64, limit: usize) -> Result<Vec<DueRefund>, CoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare(
                "SELECT r.id, r.state, r.out_refund_no, r.out_trade_no, o.transaction_id, o.total_fee, r.refund_fee, r.attempts,
                        r.from_recharge, r.updated_at
                 FROM refunds r INDEXED BY refunds_due JOIN orders o ON o.out_trade_no = r.out_trade_no
                 WHERE r.state IN ('approved', 'submitting', 'processing')
                   AND COALESCE(r.next_attempt_at, 0) <= ?1
                 ORDER BY COALESCE(r.next_attempt_at, 0), r.id
                 LIMIT ?2",
            )?;
            let rows = statement.query_map(params![now, limit as i64], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, i64>(5)?,
                    row.get::<_, i64>(6)?,
                    row.get::<_, i64>(7)?,
                    row.get::<_, bool>(8)?,
                    row.get::<_, i64>(9)?,
                ))
            })?;
            let mut due = Vec::new();
            for row in rows {
                let (id, state, out_refund_no, out_trade_no, transaction_id, total_fee, refund_fee, attempts, from_recharge, since) =
                    row?;
                let invalid = |e: wxpay::IdError| CoreError::Invalid(e.to_string());
                due.push(DueRefund {
                    id,
                    state: RefundState::parse(&state).ok_or_else(|| CoreError::Invalid(format!("unknown state {state}")))?,
                    out_refund_no: OutRefundNo::new(out_refund_no).map_err(invalid)?,
                    out_trade_no: OutTradeNo::new(out_trade_no).map_err(invalid)?,
                    transaction_id: TransactionId::new(transaction_id).map_err(invalid)?,
                    total_fee: Fen::new(total_fee),
                    refund_fee: Fen::new(refund_fee),
                    attempts,
                    from_recharge,
                    since,
                });
            }
            Ok(due)
        })
    }

    /// approved → submitting, counting the attempt. Committed before anything is sent, so a
    /// crash from here on is recovered by a query, never by a blind resend.
    pub fn claim_for_submit(&self, refund: i64, now: i64) -> Result<(), CoreError> {
        self.step(
            refund,
            RefundState::Approved,
            RefundState::Submitting,
            now,
            |tx| {
                tx.execute(
                    "UPDATE refunds SET attempts = attempts + 1 WHERE id = ?1",
                    [refund],
                )?;
                Ok(())
            },
        )
    }

    /// submitting → processing: WeChat accepted it. Its outcome is checked from `check_at` on.
    pub fn mark_accepted(
        &self,
        refund: i64,
        refund_id: &str,
        check_at: i64,
        now: i64,
    ) -> Result<(), CoreError> {
        self.accepted(refund, RefundState::Submitting, refund_id, check_at, now)
    }

    fn accepted(
        &self,
        refund: i64,
        from: RefundState,
        refund_id: &str,
        check_at: i64,
        now: i64,
    ) -> Result<(), CoreError> {
        self.step(refund, from, RefundState::Processing, now, |tx| {
            tx.execute(
                "UPDATE refunds SET refund_id = ?2, next_attempt_at = ?3, last_error = NULL WHERE id = ?1",
                params![refund, refund_id, check_at],
            )?;
            Ok(())
        })
    }

    /// submitting → approved: send again (with the same number) from `retry_at`.
    pub fn retry_later(
        &self,
        refund: i64,
        retry_at: i64,
        error: &str,
        now: i64,
    ) -> Result<(), CoreError> {
        self.step(
            refund,
            RefundState::Submitting,
            RefundState::Approved,
            now,
            |tx| {
                tx.execute(
                    "UPDATE refunds SET next_attempt_at = ?2, last_error = ?3 WHERE id = ?1",
                    params![refund, retry_at, error],
                )?;
                Ok(())
            },
        )
    }

    /// submitting → approved, to be sent again at once from recharge funds.
    pub fn retry_from_recharge(&self, refund: i64, error: &str, now: i64) -> Result<(), CoreError> {
        self.step(refund, RefundState::Submitting, RefundState::Approved, now, |tx| {
            tx.execute(
                "UPDATE refunds SET from_recharge = 1, next_attempt_at = ?2, last_error = ?3 WHERE id = ?1",
                params![refund, now, error],
            )?;
            Ok(())
        })
    }

    /// submitting → failed: WeChat refused it for good; `reason` says what to do.
    pub fn mark_failed(&self, refund: i64, reason: &str, now: i64) -> Result<(), CoreError> {
        self.step(
            refund,
            RefundState::Submitting,
            RefundState::Failed,
            now,
            |tx| {
                tx.execute(
                    "UPDATE refunds SET failure_reason = ?2, next_attempt_at = NULL WHERE id = ?1",
                    params![refund, reason],
                )?;
                Ok(())
            },
        )
    }

    /// processing → succeeded | closed | needs_manual.
    pub fn mark_final(&self, refund: i64, to: RefundState, now: i64) -> Result<(), CoreError> {
        self.step(refund, RefundState::Processing, to, now, |tx| {
            tx.execute(
                "UPDATE refunds SET next_attempt_at = NULL WHERE id = ?1",
                [refund],
            )?;
            Ok(())
        })
    }

    /// Keeps a refund in its state and looks at it again at `at`.
    pub fn check_again(
        &self,
        refund: i64,
        state: RefundState,
        at: i64,
        error: Option<&str>,
    ) -> Result<(), CoreError> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE refunds SET next_attempt_at = ?3, last_error = COALESCE(?4, last_error) WHERE id = ?1 AND state = ?2",
                params![refund, state.as_str(), at, error],
            )?;
            if changed != 1 {
                return Err(CoreError::TransitionLost {
                    refund,
                    expected: state.as_str(),
                });
            }
            Ok(())
        })
    }

    /// processing → the state WeChat reports, when it is final.
    pub fn settle(&self, refund: i64, status: &RefundStatus, now: i64) -> Result<(), CoreError> {
        match RefundState::from_wire(status) {
            Some(to) => self.mark_final(refund, to, now),
            None => Ok(()),
        }
    }

    /// A refund notification (decrypted and checked by the caller) settles the refund it names.
    /// Returns false when there is nothing to change (not ours, or already final).
    pub fn apply_refund_notification(
        &self,
        notification: &RefundNotification,
        now: i64,
    ) -> Result<bool, CoreError> {
        let Some((id, state, fee)) = self.refund_by_number(notification.out_refund_no.as_str())?
        else {
            return Ok(false);
        };
        if fee != notification.refund_fee {
            return Err(CoreError::Invalid(format!(
                "the refund notification for {} says {} fen, the desk approved {} fen; not applied",
                notification.out_refund_no, notification.refund_fee, fee
            )));
        }
        match state {
            // Sent, or to be sent again after an unknown outcome: WeChat has it.
            RefundState::Submitting | RefundState::Approved => {
                self.accepted(id, state, notification.refund_id.as_str(), now, now)?
            }
            RefundState::Processing => {}
            _ => return Ok(false),
        }
        self.settle(id, &notification.refund_status, now)?;
        Ok(true)
    }

    /// The refund with this number, if the desk made it.
    pub fn refund_by_number(
        &self,
        out_refund_no: &str,
    ) -> Result<Option<(i64, RefundState, Fen)>, CoreError> {
        self.read(|conn| {
            let row: Option<(i64, String, i64)> = conn
                .query_row(
                    "SELECT id, state, refund_fee FROM refunds WHERE out_refund_no = ?1",
                    [out_refund_no],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()?;
            Ok(row.and_then(|(id, state, fee)| {
                RefundState::parse(&state).map(|state| (id, state, Fen::new(fee)))
            }))
        })
    }

    /// Appends to the exchange log. `request` and `response` must already be redacted.
    pub fn log_exchange(
        &self,
        endpoint: &str,
        refund: Option<i64>,
        request: &str,
        response: Option<&str>,
        outcome: &str,
        now: i64,
    ) -> Result<(), CoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO exchanges (at, endpoint, refund, request, response, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![now, endpoint, refund, request, response, outcome],
            )?;
            Ok(())
        })
    }

    /// One state step plus its bookkeeping, in one transaction; lost if the state moved.
    pub(crate) fn step(
        &self,
        refund: i64,
        from: RefundState,
        to: RefundState,
        now: i64,
        also: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<(), CoreError>,
    ) -> Result<(), CoreError> {
        if !from.may_become(to) {
            return Err(CoreError::Invalid(format!(
                "a refund cannot go from {} to {}",
                from.as_str(),
                to.as_str()
            )));
        }
        let event = self.write(|tx| {
            let changed = tx.execute(
                "UPDATE refunds SET state = ?3, updated_at = ?4 WHERE id = ?1 AND state = ?2",
                params![refund, from.as_str(), to.as_str(), now],
            )?;
            if changed != 1 {
                return Err(CoreError::TransitionLost {
                    refund,
                    expected: from.as_str(),
                });
            }
            also(tx)?;
            refund_event(tx, refund)
        })?;
        self.publish(event);
        Ok(())
    }
}

/// The event announcing a refund's current state (read inside the transaction that set it).
pub(crate) fn refund_event(
    tx: &rusqlite::Transaction<'_>,
    refund: i64,
) -> Result<DeskEvent, CoreError> {
    let (request, out_trade_no, out_refund_no, fee, state, failure, last_error): (
        i64,
        String,
        String,
        i64,
        String,
        Option<String>,
        Option<String>,
    ) = tx.query_row(
        "SELECT request, out_trade_no, out_refund_no, refund_fee, state, failure_reason, last_error
         FROM refunds WHERE id = ?1",
        [refund],
        |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
            ))
        },
    )?;
    let state = RefundState::parse(&state)
        .ok_or_else(|| CoreError::Invalid(format!("unknown refund state {state}")))?;
    let detail = match state {
        RefundState::Failed => failure,
        RefundState::Approved | RefundState::Submitting => last_error,
        _ => None,
    };
    Ok(DeskEvent::RefundChanged {
        refund,
        request,
        out_trade_no,
        out_refund_no,
        refund_fee: Fen::new(fee),
        state,
        detail,
    })
}
