//! Why the desk could not start or a command could not run, each worded with what to do.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::ConfigError;
use crate::files::FileError;
use crate::lock::LockError;
use crate::secrets::SecretError;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Store(#[from] desk_core::StoreError),
    #[error(transparent)]
    Core(#[from] desk_core::CoreError),
    #[error("the merchant certificate: {0}")]
    Identity(#[from] wxpay_client::IdentityError),
    #[error("the connection to WeChat Pay cannot be set up: {0}")]
    Https(#[from] wxpay_client::SetupError),
    #[error(
        "no merchant is set up in {0}: run `merchant-desk-cli setup` with your appid, mch_id and certificate, or use the sandbox"
    )]
    NoMerchant(PathBuf),
    #[error("the API key of merchant {0} is not saved: run `merchant-desk-cli setup` again")]
    NoApiKey(String),
    #[error("{0}")]
    InvalidSetting(String),
    /// `api_base` or `extra_ca` (config.toml, a hidden flag) without the developer switch.
    #[error(
        "WeChat Pay is set to a test server ({0}), which a shop's desk never talks to: remove api_base and extra_ca from [merchant] in config.toml and run setup again (developers: set MERCHANT_DESK_DEV_WECHAT)"
    )]
    TestServerRefused(String),
    #[error("the trial refund runs in the sandbox: switch to the sandbox in Settings first")]
    NotInSandbox,
    #[error(
        "the setup was not saved: a check failed or a part is missing (run the checks and fix what they name)"
    )]
    SetupNotChecked,
    #[error(
        "the sandbox is not running ({0} not found or stale): start it with `merchant-desk-cli serve --sandbox` (or the app) first"
    )]
    SandboxNotRunning(PathBuf),
    #[error(
        "{0} refund(s) are still on their way (approved, being sent, held or followed with WeChat Pay): wait until they end (or fix what holds them), then switch"
    )]
    RefundsInFlight(i64),
    #[error("the sandbox simulator could not start: {0}")]
    Sandbox(#[from] wxpay_sim::SimError),
    #[error(transparent)]
    Relay(#[from] relay_client::RelayError),
    #[error(transparent)]
    Pairing(#[from] crate::pairing::PairingRefusal),
    /// These books hold a staff desk's copy of the owner's queue: no refund engine runs on them.
    #[error(
        "{0} holds a staff desk's copy of the owner's queue, not the merchant's own books: no refunds are sent from it. Move that folder aside and start again"
    )]
    MirrorBooks(PathBuf),
    #[error(
        "the intake cannot listen on {addr}: {source}. Another program may use the port: choose another in config.toml (intake.listen) or with --listen"
    )]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

impl RuntimeError {
    /// The code the window and the CLI branch on.
    pub fn code(&self) -> desk_core::Code {
        use desk_core::Code;
        match self {
            RuntimeError::Core(error) => error.code(),
            RuntimeError::Store(_) => Code::Storage,
            RuntimeError::Lock(_) | RuntimeError::Bind { .. } | RuntimeError::Sandbox(_) => {
                Code::DeskUnavailable
            }
            RuntimeError::InvalidSetting(_) | RuntimeError::NotInSandbox => Code::InvalidInput,
            RuntimeError::Pairing(refusal) => match refusal {
                crate::pairing::PairingRefusal::BadCode(_)
                | crate::pairing::PairingRefusal::StaffCodeOnMerchantDesk { .. }
                | crate::pairing::PairingRefusal::NoBundle
                | crate::pairing::PairingRefusal::Bundle(_) => Code::InvalidInput,
                crate::pairing::PairingRefusal::RelayContradictsCode { .. }
                | crate::pairing::PairingRefusal::UnreadableMerchant(_)
                | crate::pairing::PairingRefusal::OtherMerchant { .. } => Code::Setup,
            },
            RuntimeError::MirrorBooks(_) => Code::Setup,
            RuntimeError::RefundsInFlight(_) => Code::RefundsInFlight,
            RuntimeError::Relay(error) if error.is_transient() => Code::DeskUnavailable,
            RuntimeError::Relay(_) => Code::Setup,
            RuntimeError::File(_)
            | RuntimeError::Config(_)
            | RuntimeError::Secret(_)
            | RuntimeError::Identity(_)
            | RuntimeError::Https(_)
            | RuntimeError::NoMerchant(_)
            | RuntimeError::NoApiKey(_)
            | RuntimeError::TestServerRefused(_)
            | RuntimeError::SetupNotChecked
            | RuntimeError::SandboxNotRunning(_) => Code::Setup,
        }
    }
}
