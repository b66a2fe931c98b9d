//! The refund engine: sends approved refunds and follows them until WeChat says how they ended.
//!
//! Never twice: a refund's `out_refund_no` is fixed at approval and every send reuses it, which
//! WeChat treats as the same refund. The claim (approved → submitting) is committed before the
//! send. Whenever WeChat's answer does not say the refund was accepted (unknown, refused, a
//! crash mid-call), the refund stays in `submitting` and is asked of WeChat by its number
//! before anything else: sent again only if WeChat has no record of it, failed only if WeChat
//! refused it and has no record of it. What each answer means is [`crate::outcome`].

use std::sync::Arc;
use std::time::Duration;

use wxpay::{
    Error, OrderRef, RefundAccount, RefundNotification, RefundQueryRequest, RefundRequest,
};
use wxpay_client::{Transport, WxPayClient};

use crate::error::CoreError;
use crate::lifecycle::{Problem, RefundState};
use crate::outcome::{QueryOutcome, SendOutcome, Wait, classify_query, classify_send};
use crate::remote::blocking;
use crate::store::Store;
use crate::work::{DueRefund, Failure, Heard};

#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// First refundquery after WeChat accepted a refund (WeChat suggests about a minute).
    pub first_check_after: Duration,
    /// Follow-ups slow down to at most this interval.
    pub max_check_interval: Duration,
    /// Backoff after a retryable failure doubles from this...
    pub retry_base: Duration,
    /// ...up to this.
    pub retry_max: Duration,
    /// Wait after NOTENOUGH when recharge funds may not be used.
    pub not_enough_wait: Duration,
    /// After NOTENOUGH, send again from recharge funds (可用余额).
    pub recharge_fallback: bool,
    /// A refund sent more than once (an earlier send's outcome was unknown) is failed only when
    /// WeChat has no record of it twice, this far apart: the earlier send may not show yet.
    pub confirm_no_record_after: Duration,
    /// Where WeChat posts refund notifications (the intake's public URL), if reachable.
    pub notify_url: Option<String>,
    /// Refunds handled per pass.
    pub batch: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            first_check_after: Duration::from_secs(60),
            max_check_interval: Duration::from_secs(30 * 60),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(5 * 60),
            not_enough_wait: Duration::from_secs(10 * 60),
            recharge_fallback: false,
            confirm_no_record_after: Duration::from_secs(5 * 60),
            notify_url: None,
            batch: 32,
        }
    }
}

/// What one pass did, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    pub checked: usize,
}

pub struct Engine<T> {
    store: Arc<Store>,
    client: WxPayClient<T>,
    settings: EngineSettings,
}

impl<T> std::fmt::Debug for Engine<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl<T: Transport> Engine<T> {
    pub fn new(store: Arc<Store>, client: WxPayClient<T>, settings: EngineSettings) -> Self {
        Engine {
            store,
            client,
            settings,
        }
    }

    /// Acts on every refund that is due at `now` (Unix seconds).
    pub async fn run_once(&self, now: i64) -> Result<Pass, CoreError> {
        let mut pass = Pass::default();
        for due in self.store.due_refunds(now, self.settings.batch)? {
            let outcome = match due.state {
                RefundState::Approved => {
                    pass.sent += 1;
                    self.submit(&due, now).await
                }
                RefundState::Submitting => {
                    pass.checked += 1;
                    self.resolve(&due, now).await
                }
                RefundState::Processing => {
                    pass.checked += 1;
                    self.follow(&due, now).await
                }
                // Not due by themselves: the owner resumes held ones; final ones are done.
                RefundState::Held
                | RefundState::Succeeded
                | RefundState::Closed
                | RefundState::NeedsManual
                | RefundState::Failed => Ok(()),
            };
            match outcome {
                // Another worker (or a notification) moved it first: nothing to do.
                Err(CoreError::TransitionLost { .. }) | Ok(()) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(pass)
    }

    /// Sends an approved refund (WeChat has no record of it) and records what the answer means.
    async fn submit(&self, due: &DueRefund, now: i64) -> Result<(), CoreError> {
        self.store.claim_for_submit(due.id, now)?;
        let request = RefundRequest {
            order: OrderRef::TransactionId(due.transaction_id.clone()),
            out_refund_no: due.out_refund_no.clone(),
            total_fee: due.total_fee,
            refund_fee: due.refund_fee,
            refund_fee_type: None,
            refund_desc: None,
            refund_account: due.from_recharge.then_some(RefundAccount::RechargeFunds),
            notify_url: self.settings.notify_url.clone(),
        };
        let result = self.client.execute(&request).await;
        self.log("refund", due.id, &format!("{request:?}"), &result, now)?;
        match classify_send(&result, &due.out_refund_no, due.refund_fee) {
            SendOutcome::Accepted { refund_id } => {
                let check_at = now + secs(self.settings.first_check_after);
                self.store
                    .mark_accepted(due.id, RefundState::Submitting, &refund_id, check_at, now)
            }
            // Failed only once WeChat, asked by the same number, has no record of it.
            SendOutcome::Refused { problem, detail } => self.store.ask_later(
                due.id,
                &Failure {
                    problem,
                    detail: &detail,
                    refused: true,
                    from_recharge: false,
                },
                now,
                now,
            ),
            SendOutcome::Unknown {
                problem,
                wait,
                detail,
            } => {
                let backoff = secs(self.backoff(due.attempts + 1));
                let (wait, from_recharge) = match wait {
                    Wait::Backoff => (backoff, false),
                    Wait::Pause(pause) => (secs(pause).max(backoff), false),
                    Wait::Funds if self.settings.recharge_fallback && !due.from_recharge => {
                        (0, true)
                    }
                    Wait::Funds => (secs(self.settings.not_enough_wait), false),
                };
                self.store.ask_later(
                    due.id,
                    &Failure {
                        problem,
                        detail: &detail,
                        refused: false,
                        from_recharge,
                    },
                    now + wait,
                    now,
                )
            }
            SendOutcome::Setup { problem, detail } => {
                self.store.hold(due.id, problem, &detail, now)
            }
        }
    }

    /// A refund whose fate WeChat has not told us (an unknown or refused answer, a crash during
    /// the call, a resumed hold): ask WeChat by its number before anything else.
    async fn resolve(&self, due: &DueRefund, now: i64) -> Result<(), CoreError> {
        match self.query(due, now).await? {
            QueryOutcome::Found { refund_id, status } => {
                self.store
                    .mark_accepted(due.id, RefundState::Submitting, &refund_id, now, now)?;
                self.store.settle(due.id, &status, now)
            }
            // WeChat refused it and has no record of it, but an earlier send of the same number
            // had an unknown outcome: WeChat's record of it may not show yet. Asked again
            // a few minutes later; only a second "no record" frees the amount.
            QueryOutcome::NoRecord
                if due.refused.is_some()
                    && due.attempts > 1
                    && due.problem != Some(Problem::NoRecordYet) =>
            {
                self.store.check_again(
                    due.id,
                    RefundState::Submitting,
                    now + secs(self.settings.confirm_no_record_after),
                    Some((Problem::NoRecordYet, "REFUNDNOTEXIST")),
                )
            }
            // WeChat refused it and has no record of it: no money moved.
            QueryOutcome::NoRecord if due.refused.is_some() => self.store.mark_failed(due.id, now),
            // WeChat never got it: send again, with the same number.
            QueryOutcome::NoRecord => self.store.send_again(due.id, now, now),
            QueryOutcome::Unknown { problem, detail } => self.store.check_again(
                due.id,
                RefundState::Submitting,
                now + secs(self.backoff(1)),
                Some((problem, &detail)),
            ),
            QueryOutcome::Setup { problem, detail } => {
                self.store.hold(due.id, problem, &detail, now)
            }
        }
    }

    /// A refund WeChat accepted: has it ended?
    async fn follow(&self, due: &DueRefund, now: i64) -> Result<(), CoreError> {
        let waited = Duration::from_secs(u64::try_from(now - due.since).unwrap_or(0));
        let next = now
            + secs(
                (waited / 2).clamp(
                    self.settings.first_check_after,
                    self.settings
                        .max_check_interval
                        .max(self.settings.first_check_after),
                ),
            );
        let again = |problem: Option<(Problem, &str)>| {
            self.store
                .check_again(due.id, RefundState::Processing, next, problem)
        };
        match self.query(due, now).await? {
            QueryOutcome::Found { status, .. } if status.is_final() => {
                self.store.settle(due.id, &status, now)
            }
            QueryOutcome::Found { .. } => again(None),
            QueryOutcome::NoRecord => {
                again(Some((Problem::NotFoundAfterAccepted, "REFUNDNOTEXIST")))
            }
            QueryOutcome::Unknown { problem, detail } | QueryOutcome::Setup { problem, detail } => {
                again(Some((problem, &detail)))
            }
        }
    }

    /// A refund notification (already decrypted and checked): see
    /// [`confirm_refund_notification`].
    pub async fn apply_notification(
        &self,
        notification: &RefundNotification,
        now: i64,
    ) -> Result<Confirmation, CoreError> {
        confirm_refund_notification(&self.store, &self.client, notification, now).await
    }

    async fn query(&self, due: &DueRefund, now: i64) -> Result<QueryOutcome, CoreError> {
        let request = RefundQueryRequest::by_out_refund_no(due.out_refund_no.clone());
        let result = self.client.execute(&request).await;
        self.log("refundquery", due.id, &format!("{request:?}"), &result, now)?;
        Ok(classify_query(&result, &due.out_refund_no))
    }

    fn log<R: std::fmt::Debug>(
        &self,
        endpoint: &str,
        refund: i64,
        request: &str,
        result: &Result<R, Error>,
        now: i64,
    ) -> Result<(), CoreError> {
        let (response, outcome) = exchange(result);
        self.store.log_exchange(
            endpoint,
            Some(refund),
            request,
            response.as_deref(),
            &outcome,
            now,
        )
    }

    fn backoff(&self, attempt: i64) -> Duration {
        let exponent = u32::try_from(attempt.clamp(1, 16) - 1).unwrap_or(0);
        self.settings
            .retry_base
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.settings.retry_max)
    }
}

/// What a refund notification came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// Taken: the refund is asked of WeChat next, or WeChat confirmed what it said, or there
    /// was nothing to change.
    Taken,
    /// WeChat, asked, contradicts it: forged by someone with the API key (or WeChat's own
    /// mistake). Nothing changed.
    Contradicted,
    /// WeChat could not be asked now: nothing changed; the notification may come again.
    Unconfirmed,
}

/// Applies a refund notification (decrypted, its facts agreeing with the desk's refund) as
/// [`Store::apply_refund_notification`] says, and confirms the one case the engine does not
/// follow by itself: a refund the desk had as failed is counted as spent again only when WeChat,
/// asked by its number, reports it succeeded or needing manual handling.
pub async fn confirm_refund_notification<T: Transport>(
    store: &Arc<Store>,
    client: &WxPayClient<T>,
    notification: &RefundNotification,
    now: i64,
) -> Result<Confirmation, CoreError> {
    let heard = {
        let (store, notification) = (store.clone(), notification.clone());
        blocking(move || store.apply_refund_notification(&notification, now)).await?
    };
    let found = match heard {
        Heard::Nothing | Heard::AskedNow => return Ok(Confirmation::Taken),
        Heard::FailedContradicted(found) => found,
    };
    let out_refund_no = notification.out_refund_no.clone();
    let request = RefundQueryRequest::by_out_refund_no(out_refund_no.clone());
    let result = client.execute(&request).await;
    {
        let (store, request) = (store.clone(), format!("{request:?}"));
        let (response, outcome) = exchange(&result);
        blocking(move || {
            store.log_exchange(
                "refundquery",
                Some(found.id),
                &request,
                response.as_deref(),
                &outcome,
                now,
            )
        })
        .await?;
    }
    let (to, refund_id) = match classify_query(&result, &out_refund_no) {
        QueryOutcome::Found { refund_id, status } => match RefundState::from_wire(&status) {
            Some(to @ (RefundState::Succeeded | RefundState::NeedsManual)) => (to, refund_id),
            _ => return Ok(Confirmation::Contradicted),
        },
        QueryOutcome::NoRecord => return Ok(Confirmation::Contradicted),
        QueryOutcome::Unknown { .. } | QueryOutcome::Setup { .. } => {
            return Ok(Confirmation::Unconfirmed);
        }
    };
    let store = store.clone();
    match blocking(move || store.contradict(found.id, to, &refund_id, now)).await {
        // Another notification confirmed it first.
        Ok(()) | Err(CoreError::TransitionLost { .. }) => Ok(Confirmation::Taken),
        Err(other) => Err(other),
    }
}

/// An answer as the exchange log keeps it: the typed response (its `Debug` form; typed values
/// carry neither the sign nor any secret, so it is the redacted exchange) and the outcome.
fn exchange<R: std::fmt::Debug>(result: &Result<R, Error>) -> (Option<String>, String) {
    match result {
        Ok(answer) => (Some(format!("{answer:?}")), "ok".to_owned()),
        Err(error) => (None, error.to_string()),
    }
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}
