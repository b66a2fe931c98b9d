//! Merchant Desk's desktop shell. It starts the desk in-process (intake, refund engine, the
//! sandbox simulator on first start), exposes one command per thing the window does, forwards
//! the desk's events to the window and turns them into desktop alerts. Every rule about money
//! and access lives in `desk-core` and `desk-runtime`; nothing here decides one.

mod commands;
mod error;
mod events;
mod launch;
mod notify;
mod rendering;
mod speaker;
mod state;
mod tray;

#[cfg(test)]
mod bindings;
#[cfg(test)]
mod capabilities_test;

pub use commands::NAMES as COMMAND_NAMES;
pub use error::{ErrorCode, IpcError};
pub use launch::{Invocation, Launch, LaunchError, USAGE};
pub use state::AppState;

use tauri::Manager;

/// Builds the app: state, commands, tray and background tasks.
pub fn builder(state: AppState) -> tauri::Builder<tauri::Wry> {
    tauri::Builder::default()
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::status::app_status,
            commands::queue::queue_list,
            commands::queue::queue_counts,
            commands::queue::request_detail,
            commands::queue::approve_request,
            commands::queue::approve_requests,
            commands::queue::reject_request,
            commands::orders::orders_list,
            commands::orders::order_detail,
            commands::orders::create_manual_refund,
            commands::settings::settings_get,
            commands::setup::save_merchant_settings,
            commands::setup::check_merchant,
            commands::setup::check_intake,
            commands::setup::sandbox_trial_refund,
            commands::settings::run_doctor,
            commands::settings::set_mode,
            commands::settings::save_intake,
            commands::relay::relay_pair,
            commands::relay::relay_invite,
            commands::access::unlock,
            commands::access::lock,
            commands::access::change_pin,
            commands::access::set_always_ask_above,
            commands::access::set_staff_limit,
            commands::logs::audit_log,
            commands::logs::exchange_log,
            commands::alerts::save_alerts,
            commands::alerts::set_language,
            commands::alerts::send_test_alert,
            commands::alerts::acknowledge_alerts,
            commands::orders::today_board,
        ])
        .setup(|app| {
            let handle = app.handle().clone();
            if !rendering::compositing_wanted(|name| std::env::var(name).ok())
                && let Some(window) = handle.get_webview_window("main")
            {
                rendering::draw_without_compositing(&window);
            }
            if let Err(error) = tray::build(&handle) {
                // Desktops without a status area still get the window and notifications.
                eprintln!("merchant-desk: no tray icon: {error}");
            }
            tauri::async_runtime::spawn(events::forward(handle));
            Ok(())
        })
}

/// Runs the app until its window is closed.
pub fn run() {
    // First: it changes the environment, which is safe only before any thread starts.
    rendering::keep_gl_out_of_window_process();
    // Before anything is written: private files whatever the umask, and room for connections.
    desk_runtime::prepare_process();
    let invocation = Launch::parse(std::env::args().skip(1), |name| std::env::var(name).ok());
    let state = match invocation {
        Ok(Invocation::Run(launch)) => {
            // The developer switch (`MERCHANT_DESK_DEV_WECHAT`): merchants set up in this
            // window reach the simulator acting as WeChat. Announced by the runtime.
            if let Some(base) = &launch.wechat.api_base {
                desk_runtime::allow_test_servers(&format!(
                    "{}={base}",
                    desk_runtime::DEV_WECHAT_ENV
                ));
            }
            tauri::async_runtime::block_on(AppState::start(launch))
        }
        Ok(Invocation::Help) => {
            // `--help` answers on stdout, like any command-line program.
            let _ = std::io::Write::write_all(&mut std::io::stdout(), USAGE.as_bytes());
            return;
        }
        Err(error) => {
            eprintln!("merchant-desk: {error}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let context = tauri::generate_context!("../tauri.conf.json");
    let app = match builder(state).build(context) {
        Ok(app) => app,
        Err(error) => {
            eprintln!("merchant-desk: the window could not be created: {error}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let tauri::RunEvent::Exit = event {
            // Let the engine finish its step and the intake answer before the process ends.
            let state = handle.state::<AppState>();
            tauri::async_runtime::block_on(state.shutdown());
        }
    });
}
