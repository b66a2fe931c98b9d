use desk_core::{ApprovedRefund, Order, QueueCount, QueueItem, QueueQuery, QueueState, unix_now};
use desk_runtime::{Approval, ApprovalError, Claim};
use serde::Serialize;
use tauri::State;
use wxpay::Fen;

use crate::error::{ErrorCode, IpcError, IpcResult};
use crate::state::AppState;

/// Who approved in the app, for the audit log: the owner (with the PIN or unlocked), or staff
/// (within the limit the owner granted; read-only without one).
pub(crate) const OWNER: &str = "owner";
pub(crate) const STAFF: &str = "staff";

fn approver(claim: Claim<'_>) -> &'static str {
    match claim {
        Claim::Owner { .. } => OWNER,
        Claim::Staff => STAFF,
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

/// Approves one request for `amount` fen (default: what was asked): as the owner when the PIN
/// is typed with it or the desk is unlocked (the PIN is needed above the "always ask" amount),
/// as staff otherwise.
#[tauri::command]
pub async fn approve_request(
    state: State<'_, AppState>,
    request: i64,
    amount: Option<i64>,
    pin: Option<String>,
) -> IpcResult<ApprovedRefund> {
    let (store, access) = (state.store().await?, state.access.clone());
    blocking(move || {
        let now = unix_now();
        let claim = access.claim_at_window(pin.as_deref(), now);
        let approval = Approval {
            request,
            amount: amount.map(Fen::new),
            by: approver(claim).into(),
            claim,
        };
        desk_runtime::approve(&store, &access, &approval, now)
    })
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
    let (store, access) = (state.store().await?, state.access.clone());
    let outcomes = blocking(move || {
        let now = unix_now();
        let claim = access.claim_at_window(pin.as_deref(), now);
        desk_runtime::approve_all(&store, &access, &requests, approver(claim), claim, now)
    })
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

/// Runs an approval (PIN check and SQLite write) off the async workers.
async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> Result<R, ApprovalError> + Send + 'static,
) -> IpcResult<R> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| IpcError::new(ErrorCode::Storage, e.to_string()))?
        .map_err(IpcError::from)
}

#[tauri::command]
pub async fn reject_request(
    state: State<'_, AppState>,
    request: i64,
    reason: String,
    pin: Option<String>,
) -> IpcResult<QueueItem> {
    let now = unix_now();
    state.access.require_refund_desk()?;
    state.access.require_owner(pin.as_deref(), now)?;
    state
        .with_store(move |store| {
            store.reject(request, &reason, OWNER, now)?;
            store.queue_item(request)
        })
        .await
}
