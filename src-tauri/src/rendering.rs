//! How the window is drawn. WebKitGTK's accelerated compositing redraws the whole window for
//! every change; without a GPU (software GL, remote desktops, Xvfb) that took 70–90 ms a frame
//! for a change of the queue's tab, and its buffers about 140 MB. The desk is tables and forms:
//! WebKit draws just what changed without it (a tab's new rows in 6–14 ms). A shop that wants
//! compositing back starts the app with `MERCHANT_DESK_COMPOSITING=on`.

pub const COMPOSITING_ENV: &str = "MERCHANT_DESK_COMPOSITING";

/// Whether the window keeps WebKit's accelerated compositing (off unless asked for).
pub fn compositing_wanted(env: impl Fn(&str) -> Option<String>) -> bool {
    env(COMPOSITING_ENV).is_some_and(|value| matches!(value.trim(), "on" | "1" | "yes"))
}

/// Turns accelerated compositing off in the window's web view. Called while the app sets up;
/// WebKit leaves compositing mode for a page already loading.
#[cfg(target_os = "linux")]
pub fn draw_without_compositing(window: &tauri::WebviewWindow) {
    let applied = window.with_webview(|webview| {
        use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
        if let Some(settings) = webview.inner().settings() {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
    });
    if let Err(error) = applied {
        // Slower drawing, never a missing window.
        eprintln!("merchant-desk: accelerated compositing stays on: {error}");
    }
}

#[cfg(not(target_os = "linux"))]
pub fn draw_without_compositing(_window: &tauri::WebviewWindow) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compositing_is_off_unless_asked_for() {
        let env = |value: Option<&'static str>| move |_: &str| value.map(str::to_owned);
        assert!(!compositing_wanted(env(None)));
        assert!(!compositing_wanted(env(Some("off"))));
        assert!(!compositing_wanted(env(Some(""))));
        assert!(compositing_wanted(env(Some("on"))));
        assert!(compositing_wanted(env(Some(" 1 "))));
    }
}
