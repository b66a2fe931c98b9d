//! The tray icon: its tooltip and menu say how many refund requests wait.

use desk_core::QueueState;
use desk_runtime::Language;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

use crate::state::AppState;

const TRAY: &str = "main";
const WAITING: &str = "waiting";

/// The menu line that shows the count, kept to rename it.
struct WaitingItem(MenuItem<tauri::Wry>);

fn waiting_text(language: Language, count: i64) -> String {
    match language {
        Language::ZhCn => format!("待审批退款：{count}"),
        Language::En => format!("Refund requests waiting: {count}"),
    }
}

pub fn build(app: &AppHandle) -> tauri::Result<()> {
    let language = app.state::<AppState>().language();
    let (open, quit) = match language {
        Language::ZhCn => ("打开商户退款台", "退出"),
        Language::En => ("Open Merchant Desk", "Quit"),
    };
    let waiting = MenuItem::with_id(app, WAITING, waiting_text(language, 0), true, None::<&str>)?;
    app.manage(WaitingItem(waiting.clone()));
    let menu = Menu::with_items(
        app,
        &[
            &waiting,
            &MenuItem::with_id(app, "open", open, true, None::<&str>)?,
            &MenuItem::with_id(app, "quit", quit, true, None::<&str>)?,
        ],
    )?;
    let mut tray = TrayIconBuilder::with_id(TRAY)
        .tooltip(waiting_text(language, 0))
        .menu(&menu)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "quit" => app.exit(0),
            WAITING => crate::notify::open_at(app, &desk_runtime::AlertTarget::Queue),
            _ => {
                if let Some(window) = app.get_webview_window("main") {
                    let _ = window.show();
                    let _ = window.set_focus();
                }
            }
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

/// Recounts pending requests into the tooltip and the menu.
pub async fn refresh(app: &AppHandle) {
    let state = app.state::<AppState>();
    let Ok(counts) = state.with_store(|store| store.queue_counts()).await else {
        return;
    };
    let pending = counts
        .iter()
        .find(|c| c.state == QueueState::Pending)
        .map_or(0, |c| c.count);
    let text = waiting_text(state.language(), pending);
    if let Some(tray) = app.tray_by_id(TRAY) {
        let _ = tray.set_tooltip(Some(&text));
        if let Some(item) = app.try_state::<WaitingItem>() {
            let _ = item.0.set_text(&text);
        }
    }
}
