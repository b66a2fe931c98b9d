use desk_core::unix_now;
use desk_runtime::{Alert, AlertSettings, Language};
use tauri::{AppHandle, State};

use crate::error::{ErrorCode, IpcError, IpcResult};
use crate::notify;
use crate::state::AppState;

#[tauri::command]
pub async fn save_alerts(
    state: State<'_, AppState>,
    alerts: AlertSettings,
    pin: Option<String>,
) -> IpcResult<AlertSettings> {
    state.access.require_owner(pin.as_deref(), unix_now())?;
    if alerts
        .quiet_hours
        .as_ref()
        .is_some_and(|q| q.minutes().is_none())
    {
        return Err(IpcError::new(
            ErrorCode::InvalidInput,
            "quiet hours need a start and an end like 22:00 and 08:00",
        ));
    }
    let config = state.update_config(|config| config.alerts = alerts)?;
    state
        .alerter
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .configure(config.alerts.clone(), config.language);
    Ok(config.alerts)
}

/// The language is everyone's choice (no PIN): it is also used for desktop notifications.
#[tauri::command]
pub async fn set_language(
    app: AppHandle,
    state: State<'_, AppState>,
    language: Language,
) -> IpcResult<Language> {
    let config = state.update_config(|config| config.language = language)?;
    *state.language.lock().unwrap_or_else(|p| p.into_inner()) = language;
    state
        .alerter
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .configure(config.alerts, language);
    crate::tray::refresh(&app).await;
    Ok(language)
}

/// Shows what a new order's alert looks (and sounds, and says) like now.
#[tauri::command]
pub async fn send_test_alert(app: AppHandle, state: State<'_, AppState>) -> IpcResult<Alert> {
    let alert = state
        .alerter
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .test_alert(unix_now());
    notify::deliver(&app, alert.clone());
    Ok(alert)
}

/// Someone saw the new orders: every alert so far is acknowledged (on disk), so reminders stop,
/// in this window and after a restart. Returns how many were waiting.
#[tauri::command]
pub async fn acknowledge_alerts(state: State<'_, AppState>) -> IpcResult<usize> {
    state
        .with_store(|store| store.acknowledge_alerts(store.last_alert()?, unix_now()))
        .await
}
