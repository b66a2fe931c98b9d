//! The refunds table as the engine sees it: what is due, and each step of the lifecycle as a
//! conditional update, published after its commit.

use rusqlite::{OptionalExtension, params};
use wxpay::{Fen, OutRefundNo, OutTradeNo, RefundNotification, RefundStatus, TransactionId};

use crate::error::CoreError;
use crate::events::DeskEvent;
use crate::lifecycle::{Problem, RefundState};
use crate::store::Store;

/// A refund the engine has to act on now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DueRefund {
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
    /// WeChat refused the last send for this reason; failed if WeChat has no record of it.
    pub refused: Option<Problem>,
    /// What the last look at it met.
    pub problem: Option<Problem>,
    /// When the refund last changed state (for processing ones: when WeChat accepted it).
    pub since: i64,
}

impl Store {
    /// Refunds waiting to be sent, asked about or followed up, whose time has come.
    pub(crate) fn due_refunds(&self, now: i64, limit: usize) -> Result<Vec<DueRefund>, CoreError> {
        self.read(|conn| {
            let mut statement = conn.prepare_cached(
                "SELECT r.id, r.state, r.out_refund_no, r.out_trade_no, o.transaction_id, o.total_fee, r.refund_fee, r.attempts,
                        r.from_recharge, r.refused, r.updated_at, r.problem
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
                    row.get::<_, Option<String>>(9)?,
                    row.get::<_, i64>(10)?,
                    row.get::<_, Option<String>>(11)?,
                ))
            })?;
            let mut due = Vec::new();
            for row in rows {
                let (id, state, out_refund_no, out_trade_no, transaction_id, total_fee, refund_fee, attempts, from_recharge, refused, since, problem) =
                    row?;
                due.push(DueRefund {
                    id,
                    state: parse_state(state)?,
                    out_refund_no: OutRefundNo::new(out_refund_no).map_err(CoreError::BadId)?,
                    out_trade_no: OutTradeNo::new(out_trade_no).map_err(CoreError::BadId)?,
                    transaction_id: TransactionId::new(transaction_id).map_err(CoreError::BadId)?,
                    total_fee: Fen::new(total_fee),
                    refund_fee: Fen::new(refund_fee),
                    attempts,
                    from_recharge,
                    refused: refused.map(parse_problem).transpose()?,
                    problem: problem.map(parse_problem).transpose()?,
                    since,
                });
            }
            Ok(due)
        })
    }

    /// How many refunds are due at `now`: the engine's look for work, for the growth test.
    #[cfg(feature = "profile")]
    pub fn due_count(&self, now: i64, limit: usize) -> Result<usize, CoreError> {
        self.due_refunds(now, limit).map(|due| due.len())
    }

    /// approved → submitting, counting the attempt. Committed before anything is sent, so a
    /// crash from here on is resolved by a query, never by a blind resend.
    pub(crate) fn claim_for_submit(&self, refund: i64, now: i64) -> Result<(), CoreError> {
        self.step(refund, RefundState::Approved, RefundState::Submitting, now, |tx| {
            tx.execute(
                "UPDATE refunds SET attempts = attempts + 1, next_attempt_at = ?2, refused = NULL WHERE id = ?1",
                params![refund, now],
            )?;
            Ok(())
        })
    }

    /// approved | submitting | held → processing: WeChat has the refund. Its outcome is checked
    /// from `check_at` on.
    pub(crate) fn mark_accepted(
        &self,
        refund: i64,
        from: RefundState,
        refund_id: &str,
        check_at: i64,
        now: i64,
    ) -> Result<(), CoreError> {
        self.step(refund, from, RefundState::Processing, now, |tx| {
            tx.execute(
                "UPDATE refunds SET refund_id = ?2, next_attempt_at = ?3, problem = NULL, wechat_detail = NULL, refused = NULL
                 WHERE id = ?1",
                params![refund, refund_id, check_at],
            )?;
            Ok(())
        })
    }

    /// A send failed (refused, or its outcome unknown): the refund stays in `submitting`, to be
    /// asked of WeChat at `ask_at`. `refused` when WeChat refused it; `from_recharge` to send
    /// the next time from recharge funds.
    pub(crate) fn ask_later(
        &self,
        refund: i64,
        failure: &Failure<'_>,
        ask_at: i64,
        now: i64,
    ) -> Result<(), CoreError> {
        self.note(refund, RefundState::Submitting, now, |tx| {
            tx.execute(
                "UPDATE refunds SET next_attempt_at = ?2, problem = ?3, wechat_detail = ?4, refused = ?5,
                        from_recharge = from_recharge OR ?6
                 WHERE id = ?1",
                params![
                    refund,
                    ask_at,
                    failure.problem.as_str(),
                    failure.detail,
                    failure.refused.then_some(failure.problem.as_str()),
                    failure.from_recharge
                ],
            )?;
            Ok(())
        })
    }

    /// submitting → held: the desk's own setup is wrong; the owner fixes it.
    pub(crate) fn hold(
        &self,
        refund: i64,
        problem: Problem,
        detail: &str,
        now: i64,
    ) -> Result<(), CoreError> {
        self.step(refund, RefundState::Submitting, RefundState::Held, now, |tx| {
            tx.execute(
                "UPDATE refunds SET next_attempt_at = NULL, problem = ?2, wechat_detail = ?3 WHERE id = ?1",
                params![refund, problem.as_str(), detail],
            )?;
            Ok(())
        })
    }

    /// submitting → approved: WeChat has no record of it and did not refuse it; sent again
    /// with the same number at `send_at`.
    pub(crate) fn send_again(&self, refund: i64, send_at: i64, now: i64) -> Result<(), CoreError> {
        self.step(
            refund,
            RefundState::Submitting,
            RefundState::Approved,
            now,
            |tx| {
                tx.execute(
                    "UPDATE refunds SET next_attempt_at = ?2 WHERE id = ?1",
                    params![refund, send_at],
                )?;
                Ok(())
            },
        )
    }

    /// submitting → failed: WeChat refused it (`refused` holds why) and has no record of it.
    pub(crate) fn mark_failed(&self, refund: i64, now: i64) -> Result<(), CoreError> {
        self.step(
            refund,
            RefundState::Submitting,
            RefundState::Failed,
            now,
            |tx| {
                tx.execute(
                    "UPDATE refunds SET problem = refused, next_attempt_at = NULL WHERE id = ?1",
                    [refund],
                )?;
                Ok(())
            },
        )
    }

    /// processing → the state WeChat reports, when it is final.
    pub(crate) fn settle(
        &self,
        refund: i64,
        status: &RefundStatus,
        now: i64,
    ) -> Result<(), CoreError> {
        match RefundState::from_wire(status) {
            Some(to) => self.step(refund, RefundState::Processing, to, now, |tx| {
                tx.execute(
                    "UPDATE refunds SET next_attempt_at = NULL, problem = NULL WHERE id = ?1",
                    [refund],
                )?;
                Ok(())
            }),
            None => Ok(()),
        }
    }

    /// Keeps a refund in `state` and looks at it again at `at`, noting the problem the last look
    /// met with WeChat's words (`None`: it went through, the problem is cleared).
    pub(crate) fn check_again(
        &self,
        refund: i64,
        state: RefundState,
        at: i64,
        problem: Option<(Problem, &str)>,
    ) -> Result<(), CoreError> {
        let (problem, detail) = problem.map(|(p, d)| (p.as_str(), d)).unzip();
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE refunds SET next_attempt_at = ?3, problem = ?4, wechat_detail = ?5
                 WHERE id = ?1 AND state = ?2",
                params![refund, state.as_str(), at, problem, detail],
            )?;
            if changed != 1 {
                return Err(CoreError::TransitionLost {
                    refund,
                    expected: state,
                });
            }
            Ok(())
        })
    }

    /// held → submitting, for every held refund: the owner fixed the setup (the doctor passed).
    /// Each is asked of WeChat before anything else. Returns how many.
    pub fn resume_held(&self, now: i64) -> Result<usize, CoreError> {
        let held: Vec<i64> = self.read(|conn| {
            let mut statement =
                conn.prepare_cached("SELECT id FROM refunds WHERE state = 'held' ORDER BY id")?;
            let rows = statement.query_map([], |row| row.get(0))?;
            rows.collect::<Result<_, _>>()
        })?;
        let mut resumed = 0;
        for refund in held {
            match self.step(
                refund,
                RefundState::Held,
                RefundState::Submitting,
                now,
                |tx| {
                    tx.execute(
                        "UPDATE refunds SET next_attempt_at = ?2 WHERE id = ?1",
                        params![refund, now],
                    )?;
                    Ok(())
                },
            ) {
                Ok(()) => resumed += 1,
                Err(CoreError::TransitionLost { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(resumed)
    }

    /// A refund notification (decrypted and checked by the caller) about a refund the desk made.
    /// It must agree with the desk's record in every fact it states (the order and WeChat's
    /// transaction, the refund number and WeChat's, both amounts), else it is refused.
    ///
    /// It is never taken on its own word: a v2 notification is encrypted with the merchant's API
    /// key, which every staff desk holds, so anyone with the key can write one. A refund the
    /// engine follows (waiting, being asked about, accepted) is asked of WeChat now (a refund
    /// query by its number) and WeChat's answer decides; one the desk had as failed is
    /// [`Heard::FailedContradicted`], for the caller to ask WeChat about
    /// ([`crate::engine::confirm_refund_notification`]). Held refunds wait for the owner (they
    /// are asked first when resumed), approved ones are sent with their number anyway.
    pub fn apply_refund_notification(
        &self,
        notification: &RefundNotification,
        now: i64,
    ) -> Result<Heard, CoreError> {
        let Some(found) = self.refund_by_number(notification.out_refund_no.as_str())? else {
            return Ok(Heard::Nothing);
        };
        let agrees = found.out_trade_no == notification.out_trade_no.as_str()
            && found.transaction_id == notification.transaction_id.as_str()
            && found.refund_fee == notification.refund_fee
            && found.total_fee == notification.total_fee
            && found
                .refund_id
                .as_deref()
                .is_none_or(|id| id == notification.refund_id.as_str());
        if !agrees {
            return Err(CoreError::NotificationMismatch {
                out_refund_no: notification.out_refund_no.to_string(),
            });
        }
        match (&notification.refund_status, found.state) {
            (
                RefundStatus::Success | RefundStatus::RefundClose | RefundStatus::Change,
                state @ (RefundState::Submitting | RefundState::Processing),
            ) => {
                self.ask_now(found.id, state, now)?;
                Ok(Heard::AskedNow)
            }
            // A failed refund's amount is free already: WeChat saying it took the refund after
            // all would count it as spent again, once WeChat confirms it.
            (RefundStatus::Success | RefundStatus::Change, RefundState::Failed) => {
                Ok(Heard::FailedContradicted(found))
            }
            (
                RefundStatus::Success | RefundStatus::RefundClose | RefundStatus::Change,
                RefundState::Approved | RefundState::Held,
            )
            | (RefundStatus::RefundClose, RefundState::Failed)
            | (_, RefundState::Succeeded | RefundState::Closed | RefundState::NeedsManual)
            | (RefundStatus::Processing | RefundStatus::Other(_), _) => Ok(Heard::Nothing),
        }
    }

    /// failed → `to`: WeChat's evidence overrides the desk's record, which is marked as
    /// contradicted (the owner is alerted).
    pub(crate) fn contradict(
        &self,
        refund: i64,
        to: RefundState,
        refund_id: &str,
        now: i64,
    ) -> Result<(), CoreError> {
        self.step(refund, RefundState::Failed, to, now, |tx| {
            tx.execute(
                "UPDATE refunds SET contradicted = 1, refund_id = ?2 WHERE id = ?1",
                params![refund, refund_id],
            )?;
            Ok(())
        })
    }

    /// Keeps the refund in `state` and makes it due now: the engine asks WeChat about it next.
    fn ask_now(&self, refund: i64, state: RefundState, now: i64) -> Result<(), CoreError> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE refunds SET next_attempt_at = ?3 WHERE id = ?1 AND state = ?2",
                params![refund, state.as_str(), now],
            )?;
            if changed != 1 {
                return Err(CoreError::TransitionLost {
                    refund,
                    expected: state,
                });
            }
            Ok(())
        })
    }

    /// The refund with this number, if the desk made it, with its order's facts.
    pub fn refund_by_number(&self, out_refund_no: &str) -> Result<Option<FoundRefund>, CoreError> {
        #[allow(clippy::type_complexity)]
        let row: Option<(i64, String, i64, String, String, i64, Option<String>)> =
            self.read(|conn| {
                conn.query_row(
                    "SELECT r.id, r.state, r.refund_fee, r.out_trade_no, o.transaction_id, o.total_fee, r.refund_id
                     FROM refunds r JOIN orders o ON o.out_trade_no = r.out_trade_no
                     WHERE r.out_refund_no = ?1",
                    [out_refund_no],
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
                )
                .optional()
            })?;
        row.map(
            |(id, state, fee, out_trade_no, transaction_id, total_fee, refund_id)| {
                Ok(FoundRefund {
                    id,
                    state: parse_state(state)?,
                    refund_fee: Fen::new(fee),
                    out_trade_no,
                    transaction_id,
                    total_fee: Fen::new(total_fee),
                    refund_id,
                })
            },
        )
        .transpose()
    }

    /// Appends to the exchange log. `request` and `response` must already be redacted.
    pub(crate) fn log_exchange(
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
            return Err(CoreError::NotAStep { from, to });
        }
        let event = self.write(|tx| {
            let changed = tx.execute(
                "UPDATE refunds SET state = ?3, updated_at = ?4 WHERE id = ?1 AND state = ?2",
                params![refund, from.as_str(), to.as_str(), now],
            )?;
            if changed != 1 {
                return Err(CoreError::TransitionLost {
                    refund,
                    expected: from,
                });
            }
            also(tx)?;
            let event = refund_event(tx, refund)?;
            crate::alerts::record_refund(tx, &event, now)?;
            Ok(event)
        })?;
        self.publish(event);
        Ok(())
    }

    /// Bookkeeping on a refund that stays in `state`, announced like a step (the window shows
    /// the problem as it happens).
    fn note(
        &self,
        refund: i64,
        state: RefundState,
        now: i64,
        also: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<(), CoreError>,
    ) -> Result<(), CoreError> {
        let event = self.write(|tx| {
            let changed = tx.execute(
                "UPDATE refunds SET updated_at = ?3 WHERE id = ?1 AND state = ?2",
                params![refund, state.as_str(), now],
            )?;
            if changed != 1 {
                return Err(CoreError::TransitionLost {
                    refund,
                    expected: state,
                });
            }
            also(tx)?;
            refund_event(tx, refund)
        })?;
        self.publish(event);
        Ok(())
    }
}

/// Why a send did not get the refund accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure<'a> {
    pub problem: Problem,
    pub detail: &'a str,
    /// WeChat refused this refund number (rather than "unknown" or "not now").
    pub refused: bool,
    pub from_recharge: bool,
}

/// What a refund notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Nothing to change: another desk's refund, a final one, one the engine sends anyway.
    Nothing,
    /// The refund is asked of WeChat at the engine's next pass; WeChat's answer decides.
    AskedNow,
    /// WeChat's notification says a refund the desk had as failed was taken after all: to be
    /// confirmed by asking WeChat before anything changes.
    FailedContradicted(FoundRefund),
}

/// A refund found by its number, with its order's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundRefund {
    pub id: i64,
    pub state: RefundState,
    pub refund_fee: Fen,
    pub out_trade_no: String,
    /// WeChat's number of the order.
    pub transaction_id: String,
    /// The order's total.
    pub total_fee: Fen,
    /// WeChat's number of the refund, once WeChat reported it.
    pub refund_id: Option<String>,
}

fn parse_state(text: String) -> Result<RefundState, CoreError> {
    RefundState::parse(&text).ok_or(CoreError::UnknownState(text))
}

pub(crate) fn parse_problem(text: String) -> Result<Problem, CoreError> {
    Problem::parse(&text).ok_or(CoreError::UnknownState(text))
}

/// The event announcing a refund's current state (read inside the transaction that set it).
pub(crate) fn refund_event(
    tx: &rusqlite::Transaction<'_>,
    refund: i64,
) -> Result<DeskEvent, CoreError> {
    #[allow(clippy::type_complexity)]
    let (request, out_trade_no, out_refund_no, fee, state, problem, wechat_detail, contradicted): (
        i64,
        String,
        String,
        i64,
        String,
        Option<String>,
        Option<String>,
        bool,
    ) = tx.query_row(
        "SELECT request, out_trade_no, out_refund_no, refund_fee, state, problem, wechat_detail, contradicted
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
                row.get(7)?,
            ))
        },
    )?;
    Ok(DeskEvent::RefundChanged {
        refund,
        request,
        out_trade_no,
        out_refund_no,
        refund_fee: Fen::new(fee),
        state: parse_state(state)?,
        problem: problem.map(parse_problem).transpose()?,
        wechat_detail,
        contradicted,
    })
}
