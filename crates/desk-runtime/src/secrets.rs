//! The API key and the certificate password: in the OS keyring (Secret Service on Linux) when
//! one answers, otherwise in `secrets.json` in the data directory, readable only by the user.
//!
//! Values never leave this module except as [`ApiKey`] / [`CertPassword`], whose `Debug` is
//! redacted; errors name the secret, never its value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use keyring_core::api::CredentialStore;
use serde::{Deserialize, Serialize};
use wxpay::{ApiKey, CertPassword};

use crate::files::{FileError, read_optional, write_private};

/// Set to `off` to skip the keyring (headless servers, tests).
pub const KEYRING_ENV: &str = "MERCHANT_DESK_KEYRING";
const SERVICE: &str = "Merchant Desk";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SecretBackend {
    /// The OS keyring.
    Keyring,
    /// `secrets.json`, mode 0600.
    File,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    ApiKey,
    CertPassword,
}

impl SecretKind {
    fn name(self) -> &'static str {
        match self {
            SecretKind::ApiKey => "api_key",
            SecretKind::CertPassword => "cert_password",
        }
    }

    fn label(self) -> &'static str {
        match self {
            SecretKind::ApiKey => "API key",
            SecretKind::CertPassword => "certificate password",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "the {what} of merchant {mch_id} is in the system keyring, which cannot be reached now ({cause}): unlock the keyring or log in to the desktop session, then try again"
    )]
    KeyringUnavailable {
        what: &'static str,
        mch_id: String,
        cause: String,
    },
    #[error("the system keyring refused to store the {what}: {cause}")]
    KeyringRefused { what: &'static str, cause: String },
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{path} is damaged ({message}): set the API key again")]
    Damaged { path: PathBuf, message: String },
    #[error("the saved {what} is not valid: {message}; set it again")]
    Invalid { what: &'static str, message: String },
}

/// Where secrets are read and written.
#[derive(Clone)]
pub struct Secrets {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Keyring(Arc<CredentialStore>),
    File(PathBuf),
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("backend", &self.backend())
            .finish()
    }
}

/// Why secrets go to a file, for the warning shown to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackWarning {
    pub path: PathBuf,
    pub cause: String,
}

impl std::fmt::Display for FallbackWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no system keyring is available ({}); the API key and certificate password are kept in {} (readable only by your user account). Anyone who can log in as you can read them",
            self.cause,
            self.path.display()
        )
    }
}

impl Secrets {
    /// The keyring when one answers, else the file in `data_dir` with a warning to show.
    pub fn best_available(fallback: &Path) -> (Secrets, Option<FallbackWarning>) {
        match keyring() {
            Ok(store) => (
                Secrets {
                    backend: Backend::Keyring(store),
                },
                None,
            ),
            Err(cause) => (
                Secrets::file(fallback),
                Some(FallbackWarning {
                    path: fallback.to_owned(),
                    cause,
                }),
            ),
        }
    }

    /// The backend a configuration says its secrets were saved in.
    pub fn open(
        backend: SecretBackend,
        fallback: &Path,
        mch_id: &str,
    ) -> Result<Secrets, SecretError> {
        match backend {
            SecretBackend::File => Ok(Secrets::file(fallback)),
            SecretBackend::Keyring => keyring()
                .map(|store| Secrets {
                    backend: Backend::Keyring(store),
                })
                .map_err(|cause| SecretError::KeyringUnavailable {
                    what: SecretKind::ApiKey.label(),
                    mch_id: mch_id.to_owned(),
                    cause,
                }),
        }
    }

    /// A given credential store (another platform's, or keyring-core's mock in tests).
    pub fn with_keyring(store: Arc<CredentialStore>) -> Secrets {
        Secrets {
            backend: Backend::Keyring(store),
        }
    }

    pub fn file(path: &Path) -> Secrets {
        Secrets {
            backend: Backend::File(path.to_owned()),
        }
    }

    pub fn backend(&self) -> SecretBackend {
        match self.backend {
            Backend::Keyring(_) => SecretBackend::Keyring,
            Backend::File(_) => SecretBackend::File,
        }
    }

    pub fn api_key(&self, mch_id: &str) -> Result<Option<ApiKey>, SecretError> {
        self.get(mch_id, SecretKind::ApiKey)?
            .map(|text| {
                ApiKey::new(text).map_err(|e| SecretError::Invalid {
                    what: SecretKind::ApiKey.label(),
                    message: e.to_string(),
                })
            })
            .transpose()
    }

    /// The saved certificate password; `None` means WeChat's default (the merchant id).
    pub fn cert_password(&self, mch_id: &str) -> Result<Option<CertPassword>, SecretError> {
        Ok(self
            .get(mch_id, SecretKind::CertPassword)?
            .map(CertPassword::new))
    }

    pub fn set(&self, mch_id: &str, kind: SecretKind, value: &str) -> Result<(), SecretError> {
        match &self.backend {
            Backend::Keyring(store) => store
                .build(SERVICE, &account(mch_id, kind), None)
                .and_then(|entry| entry.set_password(value))
                .map_err(|e| SecretError::KeyringRefused {
                    what: kind.label(),
                    cause: e.to_string(),
                }),
            Backend::File(path) => {
                let mut all = read_file(path)?;
                all.entry(mch_id.to_owned())
                    .or_default()
                    .insert(kind.name().to_owned(), value.to_owned());
                write_file(path, &all)
            }
        }
    }

    pub fn delete(&self, mch_id: &str, kind: SecretKind) -> Result<(), SecretError> {
        match &self.backend {
            Backend::Keyring(store) => match store
                .build(SERVICE, &account(mch_id, kind), None)
                .and_then(|entry| entry.delete_credential())
            {
                Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
                Err(e) => Err(SecretError::KeyringRefused {
                    what: kind.label(),
                    cause: e.to_string(),
                }),
            },
            Backend::File(path) => {
                let mut all = read_file(path)?;
                if let Some(entry) = all.get_mut(mch_id) {
                    entry.remove(kind.name());
                }
                write_file(path, &all)
            }
        }
    }

    fn get(&self, mch_id: &str, kind: SecretKind) -> Result<Option<String>, SecretError> {
        match &self.backend {
            Backend::Keyring(store) => match store
                .build(SERVICE, &account(mch_id, kind), None)
                .and_then(|entry| entry.get_password())
            {
                Ok(value) => Ok(Some(value)),
                Err(keyring_core::Error::NoEntry) => Ok(None),
                Err(e) => Err(SecretError::KeyringUnavailable {
                    what: kind.label(),
                    mch_id: mch_id.to_owned(),
                    cause: e.to_string(),
                }),
            },
            Backend::File(path) => Ok(read_file(path)?
                .remove(mch_id)
                .and_then(|mut entry| entry.remove(kind.name()))),
        }
    }
}

/// `1900000109/api_key`: one entry per merchant and secret.
fn account(mch_id: &str, kind: SecretKind) -> String {
    format!("{mch_id}/{}", kind.name())
}

type SecretFile = BTreeMap<String, BTreeMap<String, String>>;

fn read_file(path: &Path) -> Result<SecretFile, SecretError> {
    match read_optional(path)? {
        None => Ok(SecretFile::new()),
        Some(text) => serde_json::from_str(&text).map_err(|e| SecretError::Damaged {
            path: path.to_owned(),
            message: e.to_string(),
        }),
    }
}

fn write_file(path: &Path, all: &SecretFile) -> Result<(), SecretError> {
    let text = serde_json::to_string_pretty(all).map_err(|e| SecretError::Damaged {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    write_private(path, text.as_bytes())?;
    Ok(())
}

/// The OS keyring, if one answers a harmless lookup now.
fn keyring() -> Result<Arc<CredentialStore>, String> {
    if std::env::var(KEYRING_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("off")) {
        return Err(format!("{KEYRING_ENV}=off"));
    }
    let store = platform_keyring()?;
    match store
        .build(SERVICE, "probe", None)
        .and_then(|entry| entry.get_password())
    {
        Ok(_) | Err(keyring_core::Error::NoEntry) => Ok(store),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(target_os = "linux")]
fn platform_keyring() -> Result<Arc<CredentialStore>, String> {
    zbus_secret_service_keyring_store::Store::new()
        .map(|store| store as Arc<CredentialStore>)
        .map_err(|e| format!("no Secret Service on the session bus: {e}"))
}

#[cfg(not(target_os = "linux"))]
fn platform_keyring() -> Result<Arc<CredentialStore>, String> {
    Err("this build has no keyring support for this system".to_owned())
}
