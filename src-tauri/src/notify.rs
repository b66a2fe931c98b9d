//! Desktop notifications (notify-rust over D-Bus on Linux), the window's own alert events and
//! the speaker, for the alerts the desk delivers from its outbox (`desk_runtime::deliver_alerts`).
//! An alert with the key of one already on screen replaces it in place (a flash sale's running
//! summary). No notification service (a headless machine, a minimal desktop) is a warning, never
//! a crash: the window still shows every alert.

use std::collections::HashMap;
use std::sync::Mutex;

use desk_core::{CoreError, StoredAlert};
use desk_runtime::{Alert, AlertSink, AlertTarget};
use tauri::{AppHandle, Emitter, Manager};

use crate::state::AppState;

/// Events the window listens to.
pub const ALERT_EVENT: &str = "alert";
pub const NAVIGATE_EVENT: &str = "navigate";
pub const NOTICE_EVENT: &str = "notice";

/// The desktop notification each running summary's key is shown as, to replace it in place
/// (only those: a key per order kept for the life of the app would only grow).
#[derive(Debug, Default)]
pub struct OnScreen(Mutex<HashMap<String, u32>>);

/// Where the desk's alerts go in the app.
pub struct AppSink {
    pub app: AppHandle,
}

impl AlertSink for AppSink {
    fn deliver(&mut self, alert: &Alert, _facts: &[StoredAlert]) {
        deliver(&self.app, alert.clone());
    }

    fn trouble(&mut self, error: &CoreError) {
        let _ = self.app.emit(
            NOTICE_EVENT,
            format!("alerts could not be read from the database ({error}); trying again"),
        );
    }
}

/// Shows `alert` in the window and on the desktop, and says what it says aloud.
pub fn deliver(app: &AppHandle, alert: Alert) {
    let _ = app.emit(ALERT_EVENT, &alert);
    let state = app.state::<AppState>();
    if let Some(phrase) = alert.speech.clone() {
        let volume = state
            .alerter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .settings()
            .volume;
        state.speaker.say(phrase, volume);
    }
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
    let state = app.state::<AppState>();
    let replaces = state
        .on_screen
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&alert.key)
        .copied();
    if let Some(id) = replaces {
        notification.id(id);
    }
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        use desk_runtime::AlertKind;
        use notify_rust::Hint;
        notification.hint(Hint::Category(
            match alert.kind {
                AlertKind::NewOrder
                | AlertKind::OrderBurst
                | AlertKind::WhileClosed
                | AlertKind::Reminder
                | AlertKind::Test => "transfer.complete",
                AlertKind::RefundRequest
                | AlertKind::RefundSucceeded
                | AlertKind::RefundFailed
                | AlertKind::RefundNeedsManual
                | AlertKind::RefundHeld
                | AlertKind::RefundContradicted => "im.received",
                AlertKind::SetupAlarm => "network.error",
            }
            .to_owned(),
        ));
        if alert.sound {
            notification.hint(Hint::SoundName("message-new-instant".to_owned()));
        } else {
            notification.hint(Hint::SuppressSound(true));
        }
    }
    match notification.show() {
        #[cfg(all(unix, not(target_os = "macos")))]
        Ok(handle) => {
            if alert.kind.updated_in_place() {
                state
                    .on_screen
                    .0
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(alert.key.clone(), handle.id());
            }
            let target = alert.target.clone();
            let up_to = alert.up_to;
            let app = app.clone();
            handle.wait_for_action(move |action| {
                if action == "default" {
                    open_at(&app, &target);
                    // Clicking it is seeing it: no reminders for what it covered.
                    let app = app.clone();
                    tauri::async_runtime::spawn(async move {
                        let state = app.state::<AppState>();
                        let _ = state
                            .with_store(move |store| {
                                store.acknowledge_alerts(up_to, desk_core::unix_now())
                            })
                            .await;
                    });
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
