//! The intake server: where WeChat's notifications and the shop backend's refund requests arrive.
//!
//! | route | from | answer |
//! |---|---|---|
//! | `POST /wxpay/notify` | WeChat (directly, through a tunnel, or forwarded unchanged by the backend) | WeChat's SUCCESS XML after the commit, FAIL otherwise (WeChat retries) |
//! | `POST /wxpay/refund-notify` | WeChat | the same |
//! | `POST /api/v1/refund-requests` | the shop backend, HMAC-signed | JSON: the request id and state, or `{code, message}` |
//! | `GET /healthz` | monitoring | `ok` |
//!
//! Refund requests carry `X-Merchant-Desk-Timestamp` (Unix seconds, within five minutes) and
//! `X-Merchant-Desk-Signature`: lowercase hex HMAC-SHA256 of `"{timestamp}\n{body}"` under the
//! shared secret. A signature is accepted once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use wxpay::{
    Fen, NotifyReply, OrderQueryRequest, OrderRef, OutTradeNo, PaymentNotification, PaymentResult,
    RefundNotification, TransactionId,
};
use wxpay_client::{Transport, WxPayClient};

use crate::error::CoreError;
use crate::events::{DeskEvent, EventSender};
use crate::orders::{Payment, PaymentSource, Recorded};
use crate::refunds::NewRequest;
use crate::store::Store;

pub const TIMESTAMP_HEADER: &str = "X-Merchant-Desk-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Merchant-Desk-Signature";
/// How far a request's timestamp may be from the desk's clock.
pub const CLOCK_WINDOW_SECS: i64 = 300;
const MAX_BODY: usize = 64 * 1024;

/// Everything the intake needs.
pub struct IntakeState<T> {
    pub store: Arc<Store>,
    /// The merchant whose notifications are accepted (and its key), and the client that asks
    /// WeChat about orders the desk has not seen.
    pub client: WxPayClient<T>,
    /// The shared secret of the shop backend.
    pub secret: String,
    pub events: EventSender,
    seen: Mutex<HashMap<String, i64>>,
}

impl<T> IntakeState<T> {
    pub fn new(
        store: Arc<Store>,
        client: WxPayClient<T>,
        secret: String,
        events: EventSender,
    ) -> Self {
        IntakeState {
            store,
            client,
            secret,
            events,
            seen: Mutex::new(HashMap::new()),
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
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .with_state(state)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs blocking SQLite work off the async workers.
async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, CoreError> + Send + 'static,
) -> Result<R, CoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|_| Err(CoreError::Invalid("the storage task stopped".into())))
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
    let merchant = state.client.merchant();
    let notification = match PaymentNotification::parse(&body, merchant) {
        Ok(notification) => notification,
        // Forged, tampered or for another merchant: refuse without saying more.
        Err(_) => return xml(NotifyReply::Fail("签名或参数错误".into())),
    };
    if notification.result != PaymentResult::Success {
        return xml(NotifyReply::Success);
    }
    let Some(paid_at) = china_time(&notification.time_end) else {
        return xml(NotifyReply::Fail("time_end格式错误".into()));
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
    match record_and_announce(&state, payment).await {
        Ok(_) => xml(NotifyReply::Success),
        Err(_) => xml(NotifyReply::Fail("处理失败，请重试".into())),
    }
}

/// Stores a payment and, the first time only, announces it.
async fn record_and_announce<T>(
    state: &IntakeState<T>,
    payment: Payment,
) -> Result<Recorded, CoreError> {
    let store = state.store.clone();
    let event = DeskEvent::OrderPaid {
        out_trade_no: payment.out_trade_no.to_string(),
        total_fee: payment.total_fee,
        paid_at: payment.paid_at,
    };
    let recorded = blocking(move || store.record_payment(&payment, unix_now())).await?;
    if recorded == Recorded::New {
        let _ = state.events.send(event);
    }
    Ok(recorded)
}

/// `yyyyMMddHHmmss` in China time (UTC+8) as Unix seconds.
fn china_time(text: &str) -> Option<i64> {
    if text.len() != 14 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u8>().ok();
    let year: i32 = text[..4].parse().ok()?;
    let date = time::Date::from_calendar_date(
        year,
        time::Month::try_from(number(4..6)?).ok()?,
        number(6..8)?,
    )
    .ok()?;
    let clock = time::Time::from_hms(number(8..10)?, number(10..12)?, number(12..14)?).ok()?;
    let offset = time::UtcOffset::from_hms(8, 0, 0).ok()?;
    Some(
        time::PrimitiveDateTime::new(date, clock)
            .assume_offset(offset)
            .unix_timestamp(),
    )
}

// ------------------------------------------------------------------ refund notifications

async fn refund_notify<T: Transport + 'static>(
    State(state): State<Arc<IntakeState<T>>>,
    body: Bytes,
) -> Response {
    let notification = match RefundNotification::parse(&body, state.client.merchant()) {
        Ok(notification) => notification,
        Err(_) => return xml(NotifyReply::Fail("解密或参数错误".into())),
    };
    let store = state.store.clone();
    let applied = notification.clone();
    match blocking(move || store.apply_refund_notification(&applied, unix_now())).await {
        Ok(changed) => {
            if changed
                && let Some(final_state) =
                    crate::refunds::RefundState::from_wire(&notification.refund_status)
            {
                let _ = state.events.send(DeskEvent::RefundChanged {
                    out_refund_no: notification.out_refund_no.to_string(),
                    state: final_state,
                });
            }
            xml(NotifyReply::Success)
        }
        Err(_) => xml(NotifyReply::Fail("处理失败".into())),
    }
}

// ------------------------------------------------------------------ refund requests

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefundRequestBody {
    request_id: String,
    out_trade_no: Option<String>,
    transaction_id: Option<String>,
    refund_fee: i64,
    reason: String,
    customer: Option<String>,
}

struct ApiError(StatusCode, &'static str, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "code": self.1, "message": self.2 }))).into_response()
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        let status = match error.code() {
            "order_unknown" | "not_found" => StatusCode::NOT_FOUND,
            "request_id_conflict" | "conflict" | "payment_conflict" => StatusCode::CONFLICT,
            "storage" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        // Storage errors carry paths and SQL: say only that it failed.
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            "the desk could not store the request; try again".to_owned()
        } else {
            error.to_string()
        };
        ApiError(status, error.code(), message)
    }
}

async fn refund_request<T: Transport + 'static>(
    State(state): State<Arc<IntakeState<T>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let now = unix_now();
    authenticate(&state, &headers, &body, now)?;
    let request: RefundRequestBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("the body is not a refund request: {e}"),
        )
    })?;
    let invalid = |message: &str| {
        ApiError(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            message.to_owned(),
        )
    };
    if request.request_id.is_empty() || request.request_id.len() > 64 {
        return Err(invalid("request_id must be 1 to 64 characters"));
    }
    if request.reason.trim().is_empty() || request.reason.chars().count() > 200 {
        return Err(invalid("reason must be 1 to 200 characters"));
    }
    if request.refund_fee <= 0 {
        return Err(invalid("refund_fee must be a positive number of fen"));
    }
    let order = match (&request.out_trade_no, &request.transaction_id) {
        (Some(no), None) => {
            OrderRef::OutTradeNo(OutTradeNo::new(no.as_str()).map_err(|e| invalid(&e.to_string()))?)
        }
        (None, Some(id)) => OrderRef::TransactionId(
            TransactionId::new(id.as_str()).map_err(|e| invalid(&e.to_string()))?,
        ),
        _ => {
            return Err(invalid(
                "give exactly one of out_trade_no and transaction_id",
            ));
        }
    };
    let out_trade_no = known_order(&state, &order).await?;
    let new = NewRequest {
        request_id: Some(request.request_id),
        out_trade_no,
        refund_fee: Fen::new(request.refund_fee),
        reason: request.reason,
        customer: request.customer,
    };
    let store = state.store.clone();
    let queued = new.clone();
    let (id, created) = blocking(move || store.add_request(&queued, now)).await?;
    if created {
        let _ = state.events.send(DeskEvent::RefundRequested {
            request: id,
            out_trade_no: new.out_trade_no.to_string(),
            refund_fee: new.refund_fee,
        });
    }
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

fn authenticate<T>(
    state: &IntakeState<T>,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), ApiError> {
    let unauthenticated =
        |code, message: &str| ApiError(StatusCode::UNAUTHORIZED, code, message.to_owned());
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(timestamp), Some(signature)) = (header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER))
    else {
        return Err(unauthenticated(
            "unauthenticated",
            "sign the request: see the intake settings for the headers",
        ));
    };
    let timestamp: i64 = timestamp
        .parse()
        .map_err(|_| unauthenticated("unauthenticated", "the timestamp must be Unix seconds"))?;
    if (now - timestamp).abs() > CLOCK_WINDOW_SECS {
        return Err(unauthenticated(
            "stale_request",
            "the timestamp is more than five minutes from the desk's clock",
        ));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(state.secret.as_bytes())
        .map_err(|_| unauthenticated("unauthenticated", "no intake secret is configured"))?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b"\n");
    mac.update(body);
    let expected = hex::encode(mac.finalize().into_bytes());
    if !bool::from(
        expected
            .as_bytes()
            .ct_eq(signature.to_ascii_lowercase().as_bytes()),
    ) {
        return Err(unauthenticated(
            "bad_signature",
            "the signature does not match: check the shared secret",
        ));
    }
    let mut seen = state.seen.lock().unwrap_or_else(|p| p.into_inner());
    seen.retain(|_, expires| *expires > now);
    if seen.insert(expected, now + 2 * CLOCK_WINDOW_SECS).is_some() {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "replayed",
            "this exact request was already received".to_owned(),
        ));
    }
    Ok(())
}

/// The order's number, asking WeChat (orderquery) about an order the desk has not seen.
async fn known_order<T: Transport + 'static>(
    state: &IntakeState<T>,
    order: &OrderRef,
) -> Result<OutTradeNo, ApiError> {
    let store = state.store.clone();
    let key = order.clone();
    let known = blocking(move || match &key {
        OrderRef::OutTradeNo(no) => Ok(store.order(no.as_str())?.map(|o| o.out_trade_no)),
        OrderRef::TransactionId(id) => store.order_by_transaction(id.as_str()),
    })
    .await?;
    if let Some(no) = known {
        return OutTradeNo::new(no).map_err(|e| ApiError::from(CoreError::Invalid(e.to_string())));
    }
    let answer = state
        .client
        .execute(&OrderQueryRequest {
            order: order.clone(),
        })
        .await
        .map_err(|e| match e {
            wxpay::Error::Business {
                code: wxpay::ErrCode::OrderNotExist,
                ..
            } => ApiError(
                StatusCode::NOT_FOUND,
                "order_unknown",
                "WeChat Pay has no such order".to_owned(),
            ),
            other => ApiError(
                StatusCode::BAD_GATEWAY,
                "wechat_unavailable",
                other.user_message(wxpay::Lang::En),
            ),
        })?;
    let (Some(transaction_id), Some(total_fee), true) = (
        answer.transaction_id.clone(),
        answer.total_fee,
        answer.trade_state.is_paid(),
    ) else {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "order_not_paid",
            format!("the order is {}", answer.trade_state),
        ));
    };
    let payment = Payment {
        out_trade_no: answer.out_trade_no.clone(),
        transaction_id,
        total_fee,
        paid_at: answer
            .time_end
            .as_deref()
            .and_then(china_time)
            .unwrap_or_else(unix_now),
        openid: answer.openid.clone(),
        trade_type: answer.trade_type.clone(),
        attach: answer.attach.clone(),
        source: PaymentSource::OrderQuery,
    };
    record_and_announce(state, payment).await?;
    Ok(answer.out_trade_no)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_time_is_utc_plus_eight() {
        // 2026-11-24 00:25:33 in Beijing is 2026-11-23 16:25:33 UTC.
        assert_eq!(china_time("20261124002533"), Some(1_795_451_133));
        assert_eq!(china_time("20261324002533"), None);
        assert_eq!(china_time("2026112400253"), None);
    }
}
