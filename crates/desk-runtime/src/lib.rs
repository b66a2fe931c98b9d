//! Starts Merchant Desk for the CLI and the desktop shell alike: the data directory and its
//! lock, `config.toml`, the API key and certificate password (keyring or private file), the
//! merchant's WeChat Pay client or the in-process sandbox, the intake and the refund engine;
//! and the doctor that checks a merchant setup.
#![forbid(unsafe_code)]

mod access;
mod alerts;
mod approval;
mod books;
mod config;
mod desk;
mod developer;
mod doctor;
mod error;
mod files;
mod lock;
mod merchant;
mod pairing;
mod reach;
mod relay;
mod secrets;
mod setup;
pub mod speech;
mod start_warning;
pub mod voice;

pub use access::{
    Access, AccessConfig, AccessError, AccessStatus, Authority, Claim, FREE_ATTEMPTS,
    MAX_WAIT_SECS, NEW_PIN_DIGITS, UNLOCK_SECS, hash_pin, hash_unchecked, time_to_try, wait_after,
};
pub use alerts::{
    Alert, AlertKind, AlertSettings, AlertSink, AlertTarget, Alerter, FLASH_ORDERS,
    FLASH_WINDOW_SECS, Language, QuietHours, REMIND_EVERY_SECS, china_day_start, deliver_alerts,
    problem_text,
};
pub use approval::{Approval, ApprovalError, approve, approve_all};
pub use books::{Books, adopt_legacy_database, adopt_staff_mirror, sandbox_intake_secret};
pub use config::{
    CertificateConfig, Config, ConfigError, ConfigProblem, DEFAULT_LISTEN, IntakeConfig,
    MerchantConfig, Mode, RefundPolicy,
};
pub use desk::{RunningDesk, StartOptions};
pub use developer::{DEV_WECHAT_CA_ENV, DEV_WECHAT_ENV, allow_test_servers, test_servers_allowed};
pub use doctor::{
    CertificateProblem, Check, CheckName, Finding, ReachProblem, Status, doctor, live_checks,
    passed, resume_held_if_passed,
};
pub use error::RuntimeError;
pub use files::{DATA_DIR_ENV, DataDir, FileError, make_private, write_private};
pub use guarded_server::process::{OpenFiles, prepare as prepare_process};
pub use lock::{DeskLock, LockError};
pub use merchant::{
    Client, SandboxCredentials, WechatServer, build_client, command_client, load_identity,
    merchant_client,
};
pub use pairing::PairingRefusal;
pub use reach::reach_check;
pub use relay::{
    LinkProblem, LinkStatus, RelayConfig, RelaySecret, StaffMerchant, invite as invite_to_relay,
    pair as pair_with_relay,
};
pub use secrets::{FallbackWarning, KEYRING_ENV, SecretBackend, SecretError, SecretKind, Secrets};
pub use setup::{
    CertificateFiles, CheckedSetup, MerchantSetup, ModeAfterSave, Verify, check_setup,
};
pub use start_warning::StartWarning;
