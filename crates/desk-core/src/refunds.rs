//! Refund requests and the one transaction that turns an approval into a refund with its own
//! `out_refund_no`. The states and their steps are in [`crate::lifecycle`]; every change is a
//! conditional UPDATE whose row count is checked.

use rand::RngExt;
use rand::distr::Alphanumeric;
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;
use wxpay::{Fen, OutRefundNo, OutTradeNo};

use crate::error::CoreError;
use crate::events::DeskEvent;
use crate::lifecycle::{RefundState, RequestState};
use crate::orders::load_order;
use crate::store::Store;
use crate::work::refund_event;

/// WeChat refuses refunds of orders paid more than a year ago.
pub const REFUND_WINDOW_SECS: i64 = 365 * 24 * 3600;
/// WeChat allows 50 refunds per order.
pub const MAX_REFUNDS_PER_ORDER: i64 = 50;

/// A customer's refund request, from the shop's backend or typed in by the owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    /// The backend's idempotency key; `None` for one made in the app.
    pub request_id: Option<String>,
    pub out_trade_no: OutTradeNo,
    pub refund_fee: Fen,
    pub reason: String,
    pub customer: Option<String>,
}

/// Who approves, and up to how much without the owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approver {
    pub name: String,
    pub limit: Option<Fen>,
}

impl Approver {
    /// The name a request approved on another owner's desk is recorded under, when WeChat's
    /// record of its refund number says so.
    pub const WECHAT_RECORD: &'static str = "微信支付记录";

    pub fn wechat_record() -> Approver {
        Approver {
            name: Approver::WECHAT_RECORD.to_owned(),
            limit: None,
        }
    }
}

/// An approval turned into a refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ApprovedRefund {
    pub refund: i64,
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub out_refund_no: OutRefundNo,
    pub refund_fee: Fen,
}

impl Store {
    /// Queues a request. A repeat of the same `request_id` returns the first (`false`: not new);
    /// the same id with other details is refused. Amounts beyond what is refundable are refused
    /// now, so the owner never sees an impossible request.
    pub fn add_request(&self, request: &NewRequest, now: i64) -> Result<(i64, bool), CoreError> {
        if !request.refund_fee.is_positive() {
            return Err(CoreError::AmountNotPositive);
        }
        self.write(|tx| {
            if let Some(id) = &request.request_id {
                let existing: Option<(i64, String, i64)> = tx
                    .query_row(
                        "SELECT id, out_trade_no, requested_fee FROM refund_requests WHERE request_id = ?1",
                        [id],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                    )
                    .optional()?;
                if let Some((existing, out_trade_no, fee)) = existing {
                    if out_trade_no == request.out_trade_no.as_str() && fee == request.refund_fee.get() {
                        return Ok((existing, false));
                    }
                    return Err(CoreError::RequestIdConflict(id.clone()));
                }
            }
            check_refundable(tx, request.out_trade_no.as_str(), request.refund_fee, now)?;
            tx.execute(
                "INSERT INTO refund_requests (request_id, out_trade_no, requested_fee, reason, customer, state, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
                params![
                    request.request_id,
                    request.out_trade_no.as_str(),
                    request.refund_fee.get(),
                    request.reason,
                    request.customer,
                    now
                ],
            )?;
            Ok((tx.last_insert_rowid(), true))
        })
        .inspect(|&(id, created)| {
            if created {
                self.publish(DeskEvent::RefundRequested {
                    request: id,
                    out_trade_no: request.out_trade_no.to_string(),
                    refund_fee: request.refund_fee,
                });
            }
        })
    }

    /// Whether a request with the backend's `request_id` is queued already.
    pub fn request_id_known(&self, request_id: &str) -> Result<bool, CoreError> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM refund_requests WHERE request_id = ?1)",
                )?
                .query_row([request_id], |row| row.get(0))?)
        })
    }

    /// Approves a pending request for `amount` (default: what was asked) and creates its refund,
    /// with its `out_refund_no`, in the same transaction as every guard.
    pub fn approve(
        &self,
        request: i64,
        amount: Option<Fen>,
        approver: &Approver,
        now: i64,
    ) -> Result<ApprovedRefund, CoreError> {
        self.write(|tx| {
            let RequestRow {
                out_trade_no,
                requested,
                state,
                request_id,
            } = request_row(tx, request)?;
            if state != RequestState::Pending {
                return Err(CoreError::NotPending { id: request, state });
            }
            let amount = amount.unwrap_or(requested);
            if !amount.is_positive() {
                return Err(CoreError::AmountNotPositive);
            }
            if amount > requested {
                return Err(CoreError::AboveRequested { amount, requested });
            }
            if let Some(limit) = approver.limit.filter(|limit| amount > *limit) {
                return Err(CoreError::OverApprovalLimit {
                    approver: approver.name.clone(),
                    amount,
                    limit,
                });
            }
            check_refundable(tx, &out_trade_no, amount, now)?;
            let changed = tx.execute(
                "UPDATE refund_requests SET state = ?4, decided_by = ?2, decided_at = ?3
                 WHERE id = ?1 AND state = ?5",
                params![request, approver.name, now, RequestState::Approved.as_str(), RequestState::Pending.as_str()],
            )?;
            if changed != 1 {
                let state = request_row(tx, request)?.state;
                return Err(CoreError::NotPending { id: request, state });
            }
            let out_refund_no = match &request_id {
                Some(request_id) => refund_number_for(&out_trade_no, request_id),
                None => new_out_refund_no(request)?,
            };
            tx.execute(
                "INSERT INTO refunds (request, out_trade_no, out_refund_no, refund_fee, state, approved_by, approved_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                params![request, out_trade_no, out_refund_no.as_str(), amount.get(), RefundState::Approved.as_str(), approver.name, now],
            )?;
            let refund = tx.last_insert_rowid();
            audit(tx, now, &approver.name, "approve", &out_trade_no, request, Some(amount), None)?;
            let approved = ApprovedRefund {
                refund,
                out_refund_no,
                refund_fee: amount,
            };
            Ok((approved, refund_event(tx, refund)?))
        })
        .map(|(approved, event)| {
            self.publish(event);
            approved
        })
    }

    /// Approves each request for what was asked, each in its own transaction: one refusal
    /// (already decided, over the limit) does not stop the others.
    pub fn approve_all(
        &self,
        requests: &[i64],
        approver: &Approver,
        now: i64,
    ) -> Vec<(i64, Result<ApprovedRefund, CoreError>)> {
        requests
            .iter()
            .map(|&request| (request, self.approve(request, None, approver, now)))
            .collect()
    }

    pub fn reject(&self, request: i64, reason: &str, by: &str, now: i64) -> Result<(), CoreError> {
        if reason.trim().is_empty() {
            return Err(CoreError::ReasonMissing {
                what: "a rejection",
            });
        }
        self.decide(
            request,
            (RequestState::Rejected, "reject"),
            by,
            Some(reason),
            now,
        )
    }

    /// The customer or the backend took the request back.
    pub fn withdraw(&self, request: i64, by: &str, now: i64) -> Result<(), CoreError> {
        self.decide(
            request,
            (RequestState::Withdrawn, "withdraw"),
            by,
            None,
            now,
        )
    }

    fn decide(
        &self,
        request: i64,
        (to, action): (RequestState, &str),
        by: &str,
        reason: Option<&str>,
        now: i64,
    ) -> Result<(), CoreError> {
        self.write(|tx| {
            let RequestRow {
                out_trade_no,
                requested,
                state,
                ..
            } = request_row(tx, request)?;
            let changed = tx.execute(
                "UPDATE refund_requests SET state = ?2, decided_by = ?3, decided_at = ?4, reject_reason = ?5
                 WHERE id = ?1 AND state = ?6",
                params![request, to.as_str(), by, now, reason, RequestState::Pending.as_str()],
            )?;
            if changed != 1 {
                return Err(CoreError::NotPending { id: request, state });
            }
            audit(tx, now, by, action, &out_trade_no, request, Some(requested), reason)?;
            Ok(out_trade_no)
        })
        .map(|out_trade_no| {
            self.publish(DeskEvent::RequestClosed {
                request,
                out_trade_no,
                state: to,
            })
        })
    }

    /// Moves a refund one step, only if it is still in `from`.
    #[cfg(feature = "steps")]
    pub fn transition(
        &self,
        refund: i64,
        from: RefundState,
        to: RefundState,
        now: i64,
    ) -> Result<(), CoreError> {
        self.step(refund, from, to, now, |_| Ok(()))
    }
}

/// A request's row as a decision needs it.
struct RequestRow {
    out_trade_no: String,
    requested: Fen,
    state: RequestState,
    /// The backend's id, when the backend sent it.
    request_id: Option<String>,
}

fn request_row(tx: &Transaction<'_>, request: i64) -> Result<RequestRow, CoreError> {
    let (out_trade_no, fee, state, request_id): (String, i64, String, Option<String>) = tx
        .query_row(
            "SELECT out_trade_no, requested_fee, state, request_id FROM refund_requests WHERE id = ?1",
            [request],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()?
        .ok_or(CoreError::RequestNotFound(request))?;
    let state = RequestState::parse(&state).ok_or(CoreError::UnknownState(state))?;
    Ok(RequestRow {
        out_trade_no,
        requested: Fen::new(fee),
        state,
        request_id,
    })
}

/// The one place that says whether `amount` may still be refunded on an order: within a year of
/// payment, under 50 refunds, and never past the amount paid counting every refund that moved
/// or may still move money (all but closed and failed).
fn check_refundable(
    tx: &Transaction<'_>,
    out_trade_no: &str,
    amount: Fen,
    now: i64,
) -> Result<(), CoreError> {
    let order = load_order(tx, out_trade_no)?
        .ok_or_else(|| CoreError::OrderUnknown(out_trade_no.to_owned()))?;
    if now - order.paid_at > REFUND_WINDOW_SECS {
        return Err(CoreError::OrderTooOld);
    }
    if order.refund_count >= MAX_REFUNDS_PER_ORDER {
        return Err(CoreError::TooManyRefunds);
    }
    if amount > order.refundable {
        return Err(CoreError::ExceedsRefundable {
            amount,
            remaining: order.refundable,
        });
    }
    Ok(())
}

/// The refund number of the backend's request `request_id` on order `out_trade_no`: the same on
/// every desk that ever approves it (`MR` and 30 hex digits of a SHA-256 of both). WeChat pays
/// one refund per number whatever number of times it is sent, so a request approved again (on
/// an owner's desk that replaced another, or by the replaced one behind its back) is never paid
/// twice, and a desk catching up with the shop's log can ask WeChat whether it was.
pub fn refund_number_for(out_trade_no: &str, request_id: &str) -> OutRefundNo {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"merchant-desk refund\n")
        .chain_update(out_trade_no.as_bytes())
        .chain_update(b"\n")
        .chain_update(request_id.as_bytes())
        .finalize();
    let number = format!("MR{}", &hex::encode(digest)[..30]);
    OutRefundNo::new(number).unwrap_or_else(|_| unreachable!("letters and digits, 32 characters"))
}

/// `MD<request>-<8 random characters>` for a request made in the app (no backend request id):
/// unique per approval and never reused across databases (a sandbox and the real merchant may
/// share WeChat's number space).
fn new_out_refund_no(request: i64) -> Result<OutRefundNo, CoreError> {
    let suffix: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(8)
        .map(char::from)
        .collect();
    OutRefundNo::new(format!("MD{request}-{suffix}")).map_err(CoreError::BadId)
}

#[allow(clippy::too_many_arguments)]
fn audit(
    tx: &Transaction<'_>,
    now: i64,
    actor: &str,
    action: &str,
    out_trade_no: &str,
    request: i64,
    amount: Option<Fen>,
    detail: Option<&str>,
) -> Result<(), CoreError> {
    tx.execute(
        "INSERT INTO audit_log (at, actor, action, out_trade_no, request, amount, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![now, actor, action, out_trade_no, request, amount.map(Fen::get), detail],
    )?;
    Ok(())
}
