//! The end-to-end harness: the real Merchant Desk window driven through tauri-driver and
//! WebKitWebDriver, the embedded sandbox simulator's control API, the desk's intake, and the
//! desktop notifications seen on the session bus, the app's processes and the X screen itself.
//!
//! Needs a display and a session bus; `scripts/e2e.sh` provides both (Xvfb, dbus-run-session),
//! builds the app and installs tauri-driver, then runs the ignored tests of this crate.

pub mod bus;
pub mod desk;
pub mod process;
pub mod screen;
pub mod webdriver;
pub mod wechat;

use std::time::{Duration, Instant};

/// Polls `probe` until it returns `Some`, or gives up after `timeout` with `what` in the panic.
pub fn eventually<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A blocking HTTP client for the local test servers (WebDriver, the intake, the simulator's
/// control API): the workspace's reqwest, with rustls on ring should one speak TLS.
pub fn http_client(timeout: Duration) -> reqwest::blocking::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .build()
        .expect("an HTTP client")
}

/// The workspace's root directory (this crate lives in `tests/e2e`).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Writes the window as it is now to `docs/screenshots/NAME.png` for the README, once the toasts
/// faded and nothing moves.
pub fn readme_screenshot(w: &webdriver::Window, name: &str) {
    w.eventually("the toasts to fade", Duration::from_secs(10), || {
        (!w.is_shown("[data-testid=toast]")).then_some(())
    });
    w.settle();
    let png = w.screenshot();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "{name}: not a real screenshot"
    );
    let dir = workspace_root().join("docs/screenshots");
    std::fs::create_dir_all(&dir).expect("docs/screenshots can be made");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("the screenshot is written");
}
