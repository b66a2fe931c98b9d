//! The intake server: where WeChat's notifications and the shop backend's refund requests arrive.
//!
//! | route | from | answer |
//! |---|---|---|
//! | `POST /wxpay/notify` | WeChat (directly, through a tunnel, or forwarded unchanged by the backend) | WeChat's SUCCESS XML after the commit, FAIL otherwise (WeChat retries) |
//! | `POST /wxpay/refund-notify` | WeChat | the same |
//! | `POST /api/v1/refund-requests` | the shop backend, HMAC-signed | JSON: the request id and state, or `{code, message}` |
//! | `POST /wxpay/reach` | the desk itself, through its public address (the setup's test) | JSON `{proof}` for a signed challenge |
//! | `GET /healthz` | monitoring | `ok` |
//!
//! Every refusal is counted by door and cause, and traffic that keeps failing verification for a
//! reason of the desk's own raises an alarm (`watch.rs`, `crate::watch`).
//!
//! Refund requests carry `X-Merchant-Desk-Timestamp` (Unix seconds, within five minutes) and
//! `X-Merchant-Desk-Signature`: lowercase hex HMAC-SHA256 of `"{timestamp}\n{body}"` under the
//! shared secret. A signature is accepted once.

mod relayed;
mod watch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use wxpay::{NotifyReply, PaymentNotification, PaymentResult, RefundNotification};
use wxpay_client::{Transport, WxPayClient};

use crate::engine::{Confirmation, confirm_refund_notification};
use crate::error::CoreError;
use crate::lifecycle::Code;
use crate::orders::{Payment, PaymentSource};
use crate::payments::PaymentWriter;
use crate::refunds::{Approver, NewRequest, refund_number_for};
use crate::remote::{Confirm, blocking, china_time, confirm_order, refund_on_wechat, unix_now};
use crate::store::Store;
use crate::watch::{AlarmCause, Door, Refusal as Cause};
use backend_api::{AuthFailure, Refusal};
pub use relayed::{Applied, Taker, take_entry};
use watch::{KeyVerdict, Watch};

pub use backend_api::CLOCK_WINDOW_SECS;
pub use backend_api::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign as sign_request};
const MAX_BODY: usize = 64 * 1024;

/// Everything the intake needs.
pub struct IntakeState<T> {
    pub store: Arc<Store>,
    /// The merchant whose notifications are accepted (and its key), and the client that asks
    /// WeChat about orders the desk has not seen.
    pub client: WxPayClient<T>,
    /// The shared secret of the shop backend.
    pub secret: String,
    /// Secrets the owner replaced: a request signed with one is refused, and says the backend
    /// was not told.
    retired_secrets: Vec<String>,
    payments: PaymentWriter,
    seen: Mutex<HashMap<String, i64>>,
    watch: Watch,
}

impl<T> IntakeState<T> {
    pub fn new(store: Arc<Store>, client: WxPayClient<T>, secret: String) -> Self {
        IntakeState {
            payments: PaymentWriter::start(store.clone()),
            watch: Watch::new(&store),
            store,
            client,
            secret,
            retired_secrets: Vec::new(),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// The shared secrets the owner replaced, newest first.
    pub fn with_retired_secrets(mut self, secrets: Vec<String>) -> Self {
        self.retired_secrets = secrets;
        self
    }

    /// Adds the refusals counted so far to the store (they go every few seconds on their own).
    pub async fn flush_refusals(&self) {
        self.watch.flush(&self.store).await;
    }
}

impl<T: Transport + 'static> IntakeState<T> {
    /// At start, an alarm about the API key left up by the last run is checked at once: a key
    /// fixed meanwhile resolves it.
    pub fn start_watch(self: &Arc<Self>) {
        let now = unix_now();
        if self.watch.key_alarm_up() && self.watch.claim_key_check(now) {
            let state = self.clone();
            tokio::spawn(async move { state.watch.check_key(&state.store, &state.client).await });
        }
    }
}

impl<T> std::fmt::Debug for IntakeState<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntakeState").finish_non_exhaustive()
    }
}

pub fn router<T: Transport + 'static>(state: Arc<IntakeState<T>>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/wxpay/notify", post(payment_notify::<T>))
        .route("/wxpay/refund-notify", post(refund_notify::<T>))
        .route("/api/v1/refund-requests", post(refund_request::<T>))
        .route(backend_api::reach::REACH_PATH, post(reach::<T>))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .with_state(state)
}

fn xml(reply: NotifyReply) -> Response {
    (
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        reply.to_xml(),
    )
        .into_response()
}

// ------------------------------------------------------------------ payment notifications

async fn payment_notify<T: Transport + 'static>(
    State(state): State<Arc<IntakeState<T>>>,
    body: Bytes,
) -> Response {
    xml(take_payment_notification(&state, &body).await.reply())
}

/// What became of a WeChat notification, wherever it came in (the intake, the relay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// Stored (or stored before), or verified with nothing to store (an unpaid result).
    Stored,
    /// Refused for good: `cause` says why (it was counted).
    Refused(Cause),
    /// Not stored now: the desk's storage failed. The same message may be stored later.
    Retry,
    /// Not decided now: an answer from outside is missing (WeChat could not be asked to confirm
    /// it, or it names this merchant but does not verify while WeChat has not said whether the
    /// desk's key is right). The same message may be decided later.
    Awaiting,
}

impl Taken {
    /// WeChat's answer: anything but SUCCESS makes it send the notification again.
    fn reply(self) -> NotifyReply {
        match self {
            Taken::Stored => NotifyReply::Success,
            Taken::Refused(Cause::Invalid) => NotifyReply::Fail("退款信息不符".into()),
            Taken::Refused(_) | Taken::Retry | Taken::Awaiting => {
                NotifyReply::Fail("签名或参数错误".into())
            }
        }
    }
}

/// Verifies a payment notification with the merchant's key and stores the paid order.
pub async fn take_payment_notification<T: Transport + 'static>(
    state: &Arc<IntakeState<T>>,
    body: &[u8],
) -> Taken {
    let merchant = state.client.merchant();
    let notification = match PaymentNotification::parse(body, merchant) {
        Ok(notification) => notification,
        // Forged, tampered or for another merchant: refuse without saying more.
        Err(error) => return refused_notification(state, Door::PaymentNotify, body, &error).await,
    };
    state
        .watch
        .resolve(&state.store, AlarmCause::ApiKeyMismatch)
        .await;
    if notification.result != PaymentResult::Success {
        return Taken::Stored;
    }
    let Some(paid_at) = china_time(&notification.time_end) else {
        state
            .watch
            .count(&state.store, Door::PaymentNotify, Cause::Malformed)
            .await;
        return Taken::Refused(Cause::Malformed);
    };
    let payment = Payment {
        out_trade_no: notification.out_trade_no.clone(),
        transaction_id: notification.transaction_id.clone(),
        total_fee: notification.total_fee,
        paid_at,
        openid: notification.openid.clone(),
        trade_type: notification.trade_type.clone(),
        attach: notification.attach.clone(),
        source: PaymentSource::Notification,
    };
    match state.payments.record(payment).await {
        Ok(_) => Taken::Stored,
        // Signed with the merchant's key, yet contradicting the order WeChat already reported
        // (another amount or transaction), or no payment at all: WeChat does not do that, so
        // someone else holds the key. Refused for good and alarmed, never taken again and again.
        Err(CoreError::PaymentConflict { .. } | CoreError::AmountNotPositive) => {
            signed_conflict(state, Door::PaymentNotify).await
        }
        Err(_) => Taken::Retry,
    }
}

/// A message that verifies with the merchant's key but contradicts WeChat: counted as forged
/// and the `signed_conflict` alarm raised (someone else holds the key).
async fn signed_conflict<T>(state: &Arc<IntakeState<T>>, door: Door) -> Taken {
    state.watch.count(&state.store, door, Cause::Forged).await;
    state
        .watch
        .raise(&state.store, AlarmCause::SignedConflict)
        .await;
    Taken::Refused(Cause::Forged)
}

// ------------------------------------------------------------------ refund notifications

async fn refund_notify<T: Transport + 'static>(
    State(state): State<Arc<IntakeState<T>>>,
    body: Bytes,
) -> Response {
    xml(take_refund_notification(&state, &body).await.reply())
}

/// Decrypts a refund notification with the merchant's key and applies it to the desk's refund
/// when every fact agrees.
pub async fn take_refund_notification<T: Transport + 'static>(
    state: &Arc<IntakeState<T>>,
    body: &[u8],
) -> Taken {
    let notification = match RefundNotification::parse(body, state.client.merchant()) {
        Ok(notification) => notification,
        Err(error) => return refused_notification(state, Door::RefundNotify, body, &error).await,
    };
    state
        .watch
        .resolve(&state.store, AlarmCause::ApiKeyMismatch)
        .await;
    match confirm_refund_notification(&state.store, &state.client, &notification, unix_now()).await
    {
        Ok(Confirmation::Taken) => Taken::Stored,
        // WeChat, asked, says otherwise: written by someone holding the API key.
        Ok(Confirmation::Contradicted) => signed_conflict(state, Door::RefundNotify).await,
        Ok(Confirmation::Unconfirmed) => Taken::Awaiting,
        // Its facts disagree with the refund the desk made: nothing changes.
        Err(CoreError::NotificationMismatch { .. }) => {
            state
                .watch
                .count(&state.store, Door::RefundNotify, Cause::Invalid)
                .await;
            Taken::Refused(Cause::Invalid)
        }
        Err(_) => Taken::Retry,
    }
}

/// Counts a refused notification. One that names this merchant but does not verify is a wrong
/// key on one side or a forgery: WeChat's word on the desk's key (asked at most once a minute)
/// tells which, and only its refusal of the key raises the alarm.
async fn refused_notification<T: Transport + 'static>(
    state: &Arc<IntakeState<T>>,
    door: Door,
    body: &[u8],
    error: &wxpay::Error,
) -> Taken {
    let now = unix_now();
    let cause = match refusal_of(body, state.client.merchant(), error) {
        Cause::Unverified => match state.watch.recent_verdict(now) {
            Some(KeyVerdict::Accepted) => Cause::Forged,
            Some(KeyVerdict::Rejected) => {
                state
                    .watch
                    .raise(&state.store, AlarmCause::ApiKeyMismatch)
                    .await;
                Cause::Unverified
            }
            None => {
                if state.watch.claim_key_check(now) {
                    let state = state.clone();
                    tokio::spawn(async move {
                        state.watch.check_key(&state.store, &state.client).await;
                    });
                }
                Cause::Unverified
            }
        },
        other => other,
    };
    state.watch.count(&state.store, door, cause).await;
    match cause {
        // Possibly genuine: the desk's key may be the wrong one.
        Cause::Unverified => Taken::Awaiting,
        cause => Taken::Refused(cause),
    }
}

/// Why a notification was refused, from its parse error.
fn refusal_of(body: &[u8], merchant: &wxpay::Merchant, error: &wxpay::Error) -> Cause {
    use wxpay::{DecryptError, Error};
    match error {
        // Payment notifications are verified before their ids are compared.
        Error::Signature(_) if names(body, merchant) => Cause::Unverified,
        Error::Signature(_) | Error::MerchantMismatch { .. } => Cause::OtherMerchant,
        // Refund notifications are decrypted after their ids matched.
        Error::Decrypt(DecryptError::WrongKeyOrCorrupt) => Cause::Unverified,
        Error::Decrypt(DecryptError::Missing | DecryptError::Base64 | DecryptError::BlockLength { .. })
        | Error::Xml(_)
        | Error::Field(_)
        | Error::Protocol { .. }
        // Not produced by parsing a notification.
        | Error::Transport(_)
        | Error::Business { .. }
        | Error::InvalidRequest(_) => Cause::Malformed,
    }
}

/// Whether the message names this merchant's appid and mch_id.
fn names(body: &[u8], merchant: &wxpay::Merchant) -> bool {
    wxpay::xml::decode(body).is_ok_and(|fields| {
        fields.get("appid") == Some(merchant.appid.as_str())
            && fields.get("mch_id") == Some(merchant.mch_id.as_str())
    })
}

// ------------------------------------------------------------------ refund requests

struct ApiError(StatusCode, &'static str, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "code": self.1, "message": self.2 }))).into_response()
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        let code = error.code();
        let status = match code {
            Code::OrderUnknown | Code::NotFound => StatusCode::NOT_FOUND,
            Code::WechatUnavailable => StatusCode::BAD_GATEWAY,
            Code::RequestIdConflict
            | Code::Conflict
            | Code::PaymentConflict
            | Code::RefundsInFlight => StatusCode::CONFLICT,
            Code::Storage | Code::Setup | Code::DeskUnavailable => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Code::InvalidAmount
            | Code::InvalidInput
            | Code::NotRefundable
            | Code::OrderNotPaid
            | Code::NeedsOwner
            | Code::WrongPin
            | Code::PinWait => StatusCode::UNPROCESSABLE_ENTITY,
        };
        // Storage errors carry paths and SQL: say only that it failed.
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            "the desk could not store the request; try again".to_owned()
        } else {
            error.to_string()
        };
        ApiError(status, code.as_str(), message)
    }
}

async fn refund_request<T: Transport + 'static>(
    State(state): State<Arc<IntakeState<T>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let (id, created) = take_refund_request(
        &state,
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        &body,
        Arrival::Direct(unix_now()),
    )
    .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(json!({ "id": id, "state": "pending", "created": created })),
    )
        .into_response())
}

/// How a refund request reached the desk, and when it reached the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arrival {
    /// At this desk's own door: this desk is the one to decide it.
    Direct(i64),
    /// Through the shop's log on the relay, which an owner's desk before this one (replaced,
    /// or still running behind the relay's back) may have read and decided.
    Relayed(i64),
}

/// Checks a backend refund request (its signature against the clock when it arrived) and queues
/// it: the request's number and whether it is new. One from the relay's log is first looked up
/// at WeChat by its refund number ([`refund_number_for`]): found there, an owner's desk approved
/// it and it is queued as approved for WeChat's amount (the engine's send of that number is
/// answered with WeChat's record, never paid again); else it waits for the owner like any other.
async fn take_refund_request<T: Transport + 'static>(
    state: &Arc<IntakeState<T>>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    arrival: Arrival,
) -> Result<(i64, bool), ApiError> {
    let now = match arrival {
        Arrival::Direct(at) | Arrival::Relayed(at) => at,
    };
    let checked = match backend_api::check(&state.secret, timestamp, signature, body, now) {
        Ok(checked) => checked,
        Err(refusal) => {
            let cause = match &refusal {
                Refusal::Unauthenticated { code, .. } => match code {
                    AuthFailure::Unsigned => Cause::Unsigned,
                    AuthFailure::Stale => Cause::Stale,
                    // Signed with a secret the owner replaced: the backend was not told. Only
                    // the holder of that secret can sign so, never a stranger.
                    AuthFailure::BadSignature
                        if state.retired_secrets.iter().any(|old| {
                            backend_api::authenticate(old, timestamp, signature, body, now).is_ok()
                        }) =>
                    {
                        Cause::OldSecret
                    }
                    AuthFailure::BadSignature => Cause::Unverified,
                },
                Refusal::Invalid(_) => Cause::Invalid,
            };
            if cause == Cause::OldSecret {
                state
                    .watch
                    .raise(&state.store, AlarmCause::BackendOldSecret)
                    .await;
            }
            state.watch.count(&state.store, Door::Backend, cause).await;
            return Err(refusal.into());
        }
    };
    if state.watch.backend_alarm_up() {
        state
            .watch
            .resolve(&state.store, AlarmCause::BackendOldSecret)
            .await;
    }
    // A replay of a stored request is refused; a retry after a failure below is not one.
    state.not_seen(&checked.signature, now)?;
    let order = checked.order;
    let out_trade_no =
        confirm_order(&state.store, &state.client, &order, Confirm::IfUnknown).await?;
    let refunded_elsewhere = match arrival {
        Arrival::Direct(_) => None,
        Arrival::Relayed(_) => {
            let (store, request_id) = (state.store.clone(), checked.request_id.clone());
            // Taken before (the log read again): the desk's own record stands.
            if blocking(move || store.request_id_known(&request_id)).await? {
                None
            } else {
                let number = refund_number_for(out_trade_no.as_str(), &checked.request_id);
                refund_on_wechat(&state.client, &number).await?
            }
        }
    };
    let new = NewRequest {
        request_id: Some(checked.request_id),
        out_trade_no,
        refund_fee: checked.refund_fee,
        reason: checked.reason,
        customer: checked.customer,
    };
    let store = state.store.clone();
    let (id, created) = blocking(move || {
        let (id, created) = store.add_request(&new, now)?;
        if let (true, Some(amount)) = (created, refunded_elsewhere) {
            // WeChat's record of this request's refund number: approved on another owner's
            // desk. Queued as approved for that amount; a refusal here (more than was asked)
            // leaves it pending for the owner, whose approval sends the same number.
            let _ = store.approve(id, Some(amount), &Approver::wechat_record(), now);
        }
        Ok((id, created))
    })
    .await?;
    state.remember(checked.signature, now);
    Ok((id, created))
}

/// Answers the desk's own reach challenge (see `backend_api::reach`).
async fn reach<T: Transport + 'static>(
    State(state): State<Arc<IntakeState<T>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let proof = backend_api::reach::answer(
        &state.secret,
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_HEADER),
        &body,
        unix_now(),
    )?;
    Ok(Json(proof).into_response())
}

/// A complete `curl` refund request, signed at `now`, for the shop's backend developer to copy
/// (it is accepted within five minutes; their code signs each request the same way).
pub fn example_request(base_url: &str, secret: &str, now: i64) -> String {
    let body = format!(
        r#"{{"request_id":"example-{now}","out_trade_no":"YOUR_ORDER_NO","refund_fee":100,"reason":"customer changed their mind","customer":"Li Lei"}}"#
    );
    let signature = sign_request(secret, now, body.as_bytes());
    format!(
        "curl -X POST '{}/api/v1/refund-requests' \\\n  -H 'Content-Type: application/json' \\\n  -H '{TIMESTAMP_HEADER}: {now}' \\\n  -H '{SIGNATURE_HEADER}: {signature}' \\\n  -d '{body}'",
        base_url.trim_end_matches('/')
    )
}

impl<T> IntakeState<T> {
    /// A signature is accepted once it led to a stored request (remembered for twice the clock
    /// window, after which its timestamp is too old anyway).
    fn not_seen(&self, signature: &str, now: i64) -> Result<(), ApiError> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, expires| *expires > now);
        if seen.contains_key(signature) {
            return Err(ApiError(
                StatusCode::CONFLICT,
                "replayed",
                "this exact request was already received".to_owned(),
            ));
        }
        Ok(())
    }

    fn remember(&self, signature: String, now: i64) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.insert(signature, now + 2 * CLOCK_WINDOW_SECS);
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Unauthenticated { code, message } => {
                ApiError(StatusCode::UNAUTHORIZED, code.as_str(), message.to_owned())
            }
            Refusal::Invalid(message) => {
                ApiError(StatusCode::BAD_REQUEST, "invalid_request", message)
            }
        }
    }
}
