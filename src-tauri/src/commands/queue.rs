use desk_core::{
    ApprovedRefund, Approver, Order, QueueCount, QueueItem, QueueQuery, QueueState, unix_now,
};
use serde::Serialize;
use tauri::State;
use wxpay::Fen;

use crate::error::{ErrorCode, IpcError, IpcResult};
use crate::state::AppState;

/// Approvals in the app are the owner's (staff without the PIN see the queue read-only).
pub(crate) const OWNER: &str = "owner";

fn owner() -> Approver {
    Approver {
        name: OWNER.into(),
        limit: None,
    }
}

/// One page of the queue: the requests in `queue_states` (none: every state), newest first,
/// older than `before` when given (the next page); or those whose order number starts with
/// `search`.
#[tauri::command]
pub async fn queue_list(
    state: State<'_, AppState>,
    queue_states: Option<Vec<String>>,
    search: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
) -> IpcResult<Vec<QueueItem>> {
    let states = queue_states
        .unwrap_or_default()
        .iter()
        .map(|s| s.parse::<QueueState>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| IpcError::new(ErrorCode::InvalidInput, e.to_string()))?;
    let query = QueueQuery {
        states,
        search: search
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
        before,
        limit: super::limit(limit),
    };
    state
        .with_store(move |store| store.queue_page(&query))
        .await
}

#[tauri::command]
pub async fn queue_counts(state: State<'_, AppState>) -> IpcResult<Vec<QueueCount>> {
    state.with_store(|store| store.queue_counts()).await
}

/// A request with its order, for the approval dialog (what can still be refunded).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RequestDetail {
    pub item: QueueItem,
    pub order: Option<Order>,
}

#[tauri::command]
pub async fn request_detail(state: State<'_, AppState>, request: i64) -> IpcResult<RequestDetail> {
    state
        .with_store(move |store| {
            let item = store.queue_item(request)?;
            let order = store.order(&item.out_trade_no)?;
            Ok(RequestDetail { item, order })
        })
        .await
}

/// Approves one request for `amount` fen (default: what was asked). `pin` is the owner PIN typed
/// with this approval, needed above the "always ask" amount.
#[tauri::command]
pub async fn approve_request(
    state: State<'_, AppState>,
    request: i64,
    amount: Option<i64>,
    pin: Option<String>,
) -> IpcResult<ApprovedRefund> {
    let now = unix_now();
    let requested = state
        .with_store(move |store| store.queue_item(request))
        .await?
        .requested_fee;
    let amount = amount.map(Fen::new);
    state
        .access
        .require_for_amount(amount.unwrap_or(requested), pin.as_deref(), now)?;
    state
        .with_store(move |store| store.approve(request, amount, &owner(), now))
        .await
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct BatchOutcome {
    pub request: i64,
    pub approved: Option<ApprovedRefund>,
    pub error: Option<IpcError>,
}

/// Approves each request in full; one refusal does not stop the others.
#[tauri::command]
pub async fn approve_requests(
    state: State<'_, AppState>,
    requests: Vec<i64>,
    pin: Option<String>,
) -> IpcResult<Vec<BatchOutcome>> {
    let now = unix_now();
    let asked = requests.clone();
    let largest = state
        .with_store(move |store| {
            asked
                .iter()
                .map(|&id| store.queue_item(id).map(|item| item.requested_fee))
                .try_fold(Fen::ZERO, |max, fee| fee.map(|fee| max.max(fee)))
        })
        .await?;
    state
        .access
        .require_for_amount(largest, pin.as_deref(), now)?;
    let outcomes = state
        .with_store(move |store| Ok(store.approve_all(&requests, &owner(), now)))
        .await?;
    Ok(outcomes
        .into_iter()
        .map(|(request, result)| match result {
            Ok(approved) => BatchOutcome {
                request,
                approved: Some(approved),
                error: None,
            },
            Err(error) => BatchOutcome {
                request,
                approved: None,
                error: Some(error.into()),
            },
        })
        .collect())
}

#[tauri::command]
pub async fn reject_request(
    state: State<'_, AppState>,
    request: i64,
    reason: String,
    pin: Option<String>,
) -> IpcResult<QueueItem> {
    let now = unix_now();
    state.access.require_owner(pin.as_deref(), now)?;
    state
        .with_store(move |store| {
            store.reject(request, &reason, OWNER, now)?;
            store.queue_item(request)
        })
        .await
}
