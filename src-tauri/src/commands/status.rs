use desk_core::unix_now;
use desk_runtime::{AccessStatus, Language, Mode, StartWarning};
use serde::Serialize;
use tauri::State;

use crate::error::IpcError;
use crate::state::AppState;

/// What the window needs on every screen: the mode (for the sandbox banner), whether the owner
/// is here, and why the desk is not running when it is not.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AppStatus {
    /// This build's version, shown with what is new in it.
    pub version: String,
    pub mode: Option<Mode>,
    pub intake_url: Option<String>,
    pub data_dir: String,
    /// What the owner should know about how the desk started (worded in the window).
    pub warnings: Vec<StartWarning>,
    pub language: Language,
    pub access: AccessStatus,
    /// Set when the desk could not start.
    pub error: Option<IpcError>,
    /// What stopped verifying and what to fix, shown until resolved.
    pub alarms: Vec<desk_core::Alarm>,
}

pub(crate) async fn status(state: &AppState) -> AppStatus {
    let desk = state.desk().await;
    let alarms = match &*desk {
        Ok(desk) => {
            let store = desk.store().clone();
            tauri::async_runtime::spawn_blocking(move || store.active_alarms())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default()
        }
        Err(_) => Vec::new(),
    };
    let (mode, intake_url, warnings, error) = match &*desk {
        Ok(desk) => (
            Some(desk.mode()),
            Some(desk.intake_url().to_owned()),
            desk.warnings().to_vec(),
            None,
        ),
        Err(error) => (None, None, Vec::new(), Some(error.clone())),
    };
    AppStatus {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        mode,
        intake_url,
        data_dir: state.launch.data_dir.root().display().to_string(),
        warnings,
        language: state.language(),
        access: state.access.status(unix_now()),
        error,
        alarms,
    }
}

#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> Result<AppStatus, IpcError> {
    Ok(status(&state).await)
}
