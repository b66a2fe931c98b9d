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
mod doctor;
mod error;
mod files;
mod lock;
mod merchant;
mod reach;
mod secrets;
mod setup;
pub mod speech;
pub mod voice;

pub use access::{Access, AccessConfig, AccessError, AccessStatus, UNLOCK_SECS, hash_pin};
pub use alerts::{
    Alert, AlertKind, AlertSettings, AlertSink, AlertTarget, Alerter, FLASH_ORDERS,
    FLASH_WINDOW_SECS, Language, QuietHours, REMIND_EVERY_SECS, china_day_start, deliver_alerts,
    problem_text, yuan,
};
pub use approval::{Approval, ApprovalError, Role, approve, approve_all};
pub use books::{Books, adopt_legacy_database, sandbox_intake_secret};
pub use config::{
    CertificateConfig, Config, ConfigError, DEFAULT_LISTEN, IntakeConfig, MerchantConfig, Mode,
    RefundPolicy,
};
pub use desk::{RunningDesk, StartOptions};
pub use doctor::{
    CertificateProblem, Check, CheckName, Finding, ReachProblem, Status, doctor, live_checks,
    passed, resume_held_if_passed,
};
pub use error::RuntimeError;
pub use files::{DATA_DIR_ENV, DataDir, FileError, write_private};
pub use lock::{DeskLock, LockError};
pub use merchant::{
    Client, SandboxCredentials, WechatServer, build_client, command_client, load_identity,
    merchant_client,
};
pub use reach::reach_check;
pub use secrets::{FallbackWarning, KEYRING_ENV, SecretBackend, SecretError, SecretKind, Secrets};
pub use setup::{
    CertificateFiles, CheckedSetup, MerchantSetup, ModeAfterSave, Verify, check_setup,
};
