//! Forwards the desk's events to the window (`desk-event`), starts each desk's alert delivery
//! (from its outbox, see `notify.rs`) and keeps the tray's count current. Follows the desk
//! across restarts (mode switches).

use std::time::Duration;

use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::broadcast::error::RecvError;

use crate::notify::NOTICE_EVENT;
use crate::state::AppState;

pub const DESK_EVENT: &str = "desk-event";

pub async fn forward(app: AppHandle) {
    loop {
        let subscription = {
            let state = app.state::<AppState>();
            let desk = state.desk().await;
            desk.as_ref().ok().map(|desk| {
                desk.deliver_alerts(
                    state.alerter.clone(),
                    crate::notify::AppSink { app: app.clone() },
                );
                (desk.subscribe(), desk.notices())
            })
        };
        let Some((mut events, mut notices)) = subscription else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        crate::tray::refresh(&app).await;
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok(event) => {
                        let _ = app.emit(DESK_EVENT, &event);
                        crate::tray::refresh(&app).await;
                    }
                    // A burst the window missed: it reloads its lists on the next event.
                    Err(RecvError::Lagged(_)) => continue,
                    // The desk stopped (restart): follow the new one.
                    Err(RecvError::Closed) => break,
                },
                notice = notices.recv() => match notice {
                    Ok(notice) => { let _ = app.emit(NOTICE_EVENT, notice); }
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => break,
                },
            }
        }
    }
}
