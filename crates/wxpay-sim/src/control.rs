//! The control API: JSON on loopback, beside WeChat's paths, for tests and the sandbox.
//!
//! | method and path | does |
//! |---|---|
//! | `GET /v1/merchant` | the sandbox merchant: URLs, appid, mch_id, API key, certificate files |
//! | `POST /v1/orders` | create an unpaid order (`{"total_fee": 100, "notify_url": "...", "days_ago": 0}`) |
//! | `POST /v1/orders/{out_trade_no}/pay` | the customer pays; a payment notification follows |
//! | `GET /v1/orders/{out_trade_no}` | one order |
//! | `GET /v1/refunds` | every refund |
//! | `GET /v1/ledger` | every money movement |
//! | `GET`/`PUT /v1/balances` | unsettled and recharge balances, in fen |
//! | `POST /v1/faults`, `DELETE /v1/faults` | inject faults into the next calls of an endpoint |
//! | `POST /v1/refund-rules` | make chosen refunds end CHANGE or REFUNDCLOSE |
//! | `GET /v1/notifications` | every notification delivery attempt |

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;

use crate::faults::FaultPlan;
use crate::state::{Balances, ControlError, NewOrder, RefundRule};
use crate::{Shared, SimInfo};

pub(crate) struct ControlState {
    pub shared: Arc<Shared>,
    pub info: SimInfo,
}

pub(crate) fn router(state: Arc<ControlState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/merchant", get(merchant))
        .route("/v1/orders", post(create_order))
        .route("/v1/orders/{out_trade_no}", get(order))
        .route("/v1/orders/{out_trade_no}/pay", post(pay))
        .route("/v1/refunds", get(refunds))
        .route("/v1/ledger", get(ledger))
        .route("/v1/balances", get(balances).put(set_balances))
        .route("/v1/faults", post(add_fault).delete(clear_faults))
        .route("/v1/refund-rules", post(add_rule))
        .route("/v1/notifications", get(notifications))
        .with_state(state)
}

struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.0,
            Json(json!({ "code": self.0.as_u16(), "message": self.1 })),
        )
            .into_response()
    }
}

impl From<ControlError> for ApiError {
    fn from(error: ControlError) -> Self {
        let status = match error {
            ControlError::NoOrder(_) => StatusCode::NOT_FOUND,
            ControlError::AlreadyPaid(_) => StatusCode::CONFLICT,
            ControlError::Invalid(_) => StatusCode::BAD_REQUEST,
        };
        ApiError(status, error.to_string())
    }
}

type Api<T> = Result<Json<T>, ApiError>;

fn ok<T: Serialize>(value: T) -> Api<T> {
    Ok(Json(value))
}

async fn merchant(State(c): State<Arc<ControlState>>) -> Api<SimInfo> {
    ok(c.info.clone())
}

async fn create_order(
    State(c): State<Arc<ControlState>>,
    Json(new): Json<NewOrder>,
) -> Api<crate::state::Order> {
    Ok(Json(c.shared.create_order(new)?))
}

async fn pay(
    State(c): State<Arc<ControlState>>,
    Path(out_trade_no): Path<String>,
) -> Api<crate::state::Order> {
    Ok(Json(c.shared.pay(&out_trade_no)?))
}

async fn order(
    State(c): State<Arc<ControlState>>,
    Path(out_trade_no): Path<String>,
) -> Api<crate::state::Order> {
    c.shared
        .order(&out_trade_no)
        .map(Json)
        .ok_or_else(|| ApiError::from(ControlError::NoOrder(out_trade_no)))
}

async fn refunds(State(c): State<Arc<ControlState>>) -> Api<Vec<crate::state::Refund>> {
    ok(c.shared.refunds())
}

async fn ledger(State(c): State<Arc<ControlState>>) -> Api<Vec<crate::state::LedgerEntry>> {
    ok(c.shared.ledger())
}

async fn balances(State(c): State<Arc<ControlState>>) -> Api<Balances> {
    ok(c.shared.balances())
}

async fn set_balances(
    State(c): State<Arc<ControlState>>,
    Json(balances): Json<Balances>,
) -> Api<Balances> {
    c.shared.set_balances(balances);
    ok(balances)
}

async fn add_fault(
    State(c): State<Arc<ControlState>>,
    Json(plan): Json<FaultPlan>,
) -> Api<FaultPlan> {
    c.shared.inject(plan.clone());
    ok(plan)
}

async fn clear_faults(State(c): State<Arc<ControlState>>) -> StatusCode {
    c.shared.clear_faults();
    StatusCode::NO_CONTENT
}

async fn add_rule(
    State(c): State<Arc<ControlState>>,
    Json(rule): Json<RefundRule>,
) -> Api<RefundRule> {
    c.shared.add_refund_rule(rule.clone());
    ok(rule)
}

async fn notifications(State(c): State<Arc<ControlState>>) -> Api<Vec<crate::notify::Delivery>> {
    ok(c.shared.deliveries())
}
