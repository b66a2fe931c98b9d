//! The developer switch: WeChat Pay replaced by a test server (the simulator acting as WeChat),
//! for the project's own tests and development, never for a shop. A test server answers
//! whatever it likes (SUCCESS while no money moves), so a desk refuses one, whether from
//! `config.toml` or a hidden flag, unless the door that started it turned the switch on from an
//! explicit environment variable ([`DEV_WECHAT_ENV`]) and said so on standard error.

use std::sync::OnceLock;

/// Set (to the test server's `https://` address) to turn the switch on; the app and the CLI
/// read it at start.
pub const DEV_WECHAT_ENV: &str = "MERCHANT_DESK_DEV_WECHAT";
/// The test server's CA (PEM), trusted beside the public roots while the switch is on.
pub const DEV_WECHAT_CA_ENV: &str = "MERCHANT_DESK_DEV_WECHAT_CA";

static SWITCH: OnceLock<String> = OnceLock::new();

/// Turns the switch on for this process and announces it; `why` names who turned it on.
pub fn allow_test_servers(why: &str) {
    if SWITCH.set(why.to_owned()).is_ok() {
        eprintln!(
            "merchant-desk: developer switch on ({why}): WeChat Pay may be a test server in this process; never use this in a shop"
        );
    }
}

/// Whether a test server may stand in for WeChat Pay in this process.
pub fn test_servers_allowed() -> bool {
    SWITCH.get().is_some()
}
