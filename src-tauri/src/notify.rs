//! Desktop notifications (notify-rust over D-Bus on Linux) and the window's own alert events.
//! No notification service (a headless machine, a minimal desktop) is a warning, never a crash:
//! the window still shows every alert.

use std::time::Duration;

use desk_runtime::{Alert, AlertTarget};
use tauri::{AppHandle, Emitter, Manager};

use crate::state::AppState;

/// Events the window listens to.
pub const ALERT_EVENT: &str = "alert";
pub const NAVIGATE_EVENT: &str = "navigate";
pub const NOTICE_EVENT: &str = "notice";

/// How often an unacknowledged order alert rings again.
pub const REPEAT_EVERY: Duration = Duration::from_secs(30);

/// Shows `alert` on the desktop and in the window; a repeating one is kept until acknowledged.
pub fn deliver(app: &AppHandle, alert: Alert) {
    if alert.repeat {
        let state = app.state::<AppState>();
        state
            .unacknowledged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(alert.clone());
    }
    let _ = app.emit(ALERT_EVENT, &alert);
    let app = app.clone();
    // Showing and waiting for a click block on D-Bus: a thread per alert, gone when it closes.
    std::thread::spawn(move || show(&app, &alert));
}

fn show(app: &AppHandle, alert: &Alert) {
    let mut notification = notify_rust::Notification::new();
    notification
        .appname("Merchant Desk")
        .summary(&alert.title)
        .body(&alert.body)
        .icon("merchant-desk")
        .action("default", "open");
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        use notify_rust::Hint;
        notification.hint(Hint::Category(match alert.kind {
            desk_runtime::AlertKind::NewOrder | desk_runtime::AlertKind::Test => {
                "transfer.complete".to_owned()
            }
            desk_runtime::AlertKind::RefundRequest
            | desk_runtime::AlertKind::RefundSucceeded
            | desk_runtime::AlertKind::RefundFailed
            | desk_runtime::AlertKind::RefundNeedsManual
            | desk_runtime::AlertKind::RefundHeld
            | desk_runtime::AlertKind::RefundContradicted => "im.received".to_owned(),
        }));
        if alert.sound {
            notification.hint(Hint::SoundName("message-new-instant".to_owned()));
        } else {
            notification.hint(Hint::SuppressSound(true));
        }
    }
    match notification.show() {
        #[cfg(all(unix, not(target_os = "macos")))]
        Ok(handle) => {
            let target = alert.target.clone();
            let app = app.clone();
            handle.wait_for_action(move |action| {
                if action == "default" {
                    open_at(&app, &target);
                }
            });
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        Ok(_) => {}
        Err(error) => {
            let _ = app.emit(
                NOTICE_EVENT,
                format!("desktop notifications are unavailable ({error}); alerts show in the window only"),
            );
        }
    }
}

/// Brings the window forward at the screen the alert is about.
pub fn open_at(app: &AppHandle, target: &AlertTarget) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
    let _ = app.emit(NAVIGATE_EVENT, target);
}

/// Rings unacknowledged order alerts again until someone acknowledges them.
pub async fn repeat_loop(app: AppHandle) {
    loop {
        tokio::time::sleep(REPEAT_EVERY).await;
        let waiting: Vec<Alert> = {
            let state = app.state::<AppState>();
            let list = state
                .unacknowledged
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            list.clone()
        };
        if let Some(latest) = waiting.last() {
            let mut again = latest.clone();
            again.repeat = false;
            if waiting.len() > 1 {
                again.body = format!("{} (+{})", again.body, waiting.len() - 1);
            }
            deliver(&app, again);
        }
    }
}
