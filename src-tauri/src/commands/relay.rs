//! The shop's relay in Settings: how this desk's link stands, pairing it, and (on the owner's
//! desk) a pairing code for a staff desk.

use desk_core::unix_now;
use relay_protocol::paths;
use serde::Serialize;
use tauri::State;

use crate::commands::settings::{SettingsView, settings_get};
use crate::error::IpcResult;
use crate::state::AppState;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RelayView {
    pub url: String,
    pub shop: String,
    pub desk_id: i64,
    /// `owner` or `staff`.
    pub role: String,
    /// For the backend developer: WeChat's notify_url and the refund requests' address.
    pub notify_url: String,
    pub refund_requests_url: String,
    pub connected: bool,
    /// The last entry of the shop's log this desk took.
    pub position: i64,
    /// Why it is not connected.
    pub problem: Option<desk_runtime::LinkProblem>,
    /// Entries the relay no longer had when this desk came back (`[from, to]`).
    pub missed: Option<Vec<i64>>,
    /// Messages put aside until WeChat Pay answers (tried again; the others go on).
    pub parked: i64,
    /// On a staff desk: the owner's updates signed with a key it does not have: pair it again.
    pub foreign_updates: i64,
}

/// The relay part of the settings screen (`None`: this desk listens itself).
pub(crate) async fn relay_view(state: &AppState) -> Option<RelayView> {
    let config = state.config().ok()?;
    let relay = config.relay?;
    let link = match &*state.desk().await {
        Ok(desk) => desk.relay_status().unwrap_or_default(),
        Err(_) => desk_runtime::LinkStatus::default(),
    };
    Some(RelayView {
        notify_url: format!(
            "{}{}",
            relay.url,
            paths::for_shop(paths::PAYMENT_NOTIFY, &relay.shop)
        ),
        refund_requests_url: format!(
            "{}{}",
            relay.url,
            paths::for_shop(paths::REFUND_REQUESTS, &relay.shop)
        ),
        url: relay.url,
        shop: relay.shop,
        desk_id: relay.desk_id,
        role: relay.role.as_str().to_owned(),
        connected: link.connected,
        position: link.position,
        problem: link.problem,
        missed: link.missed.map(|(from, to)| vec![from, to]),
        parked: link.parked,
        foreign_updates: link.foreign_updates,
    })
}

/// Pairs this desk with the shop's relay and restarts it on the relay.
#[tauri::command]
pub async fn relay_pair(
    state: State<'_, AppState>,
    url: String,
    code: String,
    name: String,
    pin: Option<String>,
) -> IpcResult<SettingsView> {
    state.access.require_owner(pin.as_deref(), unix_now())?;
    desk_runtime::pair_with_relay(
        &state.launch.data_dir,
        &url,
        &code,
        name.trim(),
        None,
        state.launch.wechat.clone(),
    )
    .await?;
    // A staff desk's doors change with it (its queue becomes read-only).
    state.access.apply(&state.config()?, unix_now())?;
    state.restart().await?;
    settings_get(state).await
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RelayInvite {
    /// Typed on the staff desk's PC, within 15 minutes, once.
    pub code: String,
    pub expires_at: i64,
}

/// On the owner's desk: a pairing code for a staff desk.
#[tauri::command]
pub async fn relay_invite(
    state: State<'_, AppState>,
    pin: Option<String>,
) -> IpcResult<RelayInvite> {
    state.access.require_owner(pin.as_deref(), unix_now())?;
    let (code, expires_at) =
        desk_runtime::invite_to_relay(&state.launch.data_dir, relay_protocol::Role::Staff).await?;
    Ok(RelayInvite {
        code: code.display(),
        expires_at,
    })
}
