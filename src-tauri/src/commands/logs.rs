use desk_core::{AuditEntry, ExchangeEntry};
use tauri::State;

use crate::error::IpcResult;
use crate::state::AppState;

/// Who did what and when, newest first.
#[tauri::command]
pub async fn audit_log(
    state: State<'_, AppState>,
    limit: Option<u32>,
) -> IpcResult<Vec<AuditEntry>> {
    let limit = super::limit(limit);
    state.with_store(move |store| store.audit_log(limit)).await
}

/// Every call to WeChat Pay (signs and secrets removed before they were stored), newest first.
#[tauri::command]
pub async fn exchange_log(
    state: State<'_, AppState>,
    limit: Option<u32>,
) -> IpcResult<Vec<ExchangeEntry>> {
    let limit = super::limit(limit);
    state.with_store(move |store| store.exchanges(limit)).await
}
