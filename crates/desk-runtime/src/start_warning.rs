//! What the owner should know about how the desk started: a code with its facts, worded by each
//! door (the CLI in English here, the window in its language from the i18n files).

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum StartWarning {
    /// A file or folder of the data directory was readable by other users (it had `mode`); it
    /// was made private again.
    MadePrivate { path: String, mode: u32 },
    /// A file or folder of the data directory belongs to another user, who can read or change it.
    NotOurs { path: String },
    /// The sandbox posts to this desk directly; the relay set in the config is not used.
    SandboxIgnoresRelay,
    /// The intake listens beyond this computer (`listen`).
    IntakeReachable { listen: String },
    /// The API key is kept in a file (`path`): no keyring was available when it was saved.
    KeyInFile { path: String },
}

impl fmt::Display for StartWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartWarning::MadePrivate { path, mode } => write!(
                f,
                "{path} was readable by other users (mode {mode:o}): made private again; check who changed it"
            ),
            StartWarning::NotOurs { path } => write!(
                f,
                "{path} belongs to another user, who can read or change the desk's data: move the data directory somewhere only you own"
            ),
            StartWarning::SandboxIgnoresRelay => f.write_str(
                "the sandbox does not use the relay: its simulator posts to this desk directly",
            ),
            StartWarning::IntakeReachable { listen } => write!(
                f,
                "the intake listens on {listen}, reachable from other computers: make sure only WeChat and the shop's backend can reach it"
            ),
            StartWarning::KeyInFile { path } => write!(
                f,
                "the API key is kept in {path} because no system keyring was available when it was saved"
            ),
        }
    }
}
