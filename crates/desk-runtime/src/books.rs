//! Each mode keeps its own books: the sandbox's database beside the simulator's files
//! (`DIR/sandbox/desk.sqlite3`), each merchant's in a folder of its own
//! (`DIR/merchants/<mch_id>/desk.sqlite3`), and a staff desk's copy of the owner's queue in
//! `DIR/mirrors/<mch_id>/desk.sqlite3`. Demo orders, sandbox refunds and the sandbox's API key
//! never meet a real merchant's refunds, and a sandbox engine cannot send them; what a staff
//! desk mirrored (from the owner's desk, through the relay) never becomes books a refund engine
//! runs on, whatever is set up in that folder later.

use std::path::PathBuf;

use crate::config::{Config, Mode};
use crate::error::RuntimeError;
use crate::files::{DataDir, FileError, read_optional, write_private};

/// Whose refunds a desk works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Books {
    Sandbox,
    /// The merchant's `mch_id` (checked as an identifier when the configuration was loaded).
    Merchant(String),
    /// A staff desk's copy of the owner's queue for merchant `mch_id`: no engine runs on it.
    Mirror(String),
}

impl Books {
    /// The books of `mode` under `config`.
    pub fn of(config: &Config, mode: Mode, dir: &DataDir) -> Result<Books, RuntimeError> {
        match (mode, staff_merchant(config), &config.merchant) {
            (Mode::Sandbox, _, _) => Ok(Books::Sandbox),
            // A staff desk keeps the owner's queue apart, even beside a merchant's own setup.
            (Mode::Production, Some(staff), _) => Ok(Books::Mirror(staff.mch_id.clone())),
            (Mode::Production, None, Some(merchant)) => {
                Ok(Books::Merchant(merchant.mch_id.clone()))
            }
            (Mode::Production, None, None) => Err(RuntimeError::NoMerchant(dir.config())),
        }
    }

    pub fn folder(&self, dir: &DataDir) -> PathBuf {
        match self {
            Books::Sandbox => dir.sandbox(),
            Books::Merchant(mch_id) => dir.root().join("merchants").join(mch_id),
            Books::Mirror(mch_id) => dir.root().join("mirrors").join(mch_id),
        }
    }

    pub fn database(&self, dir: &DataDir) -> PathBuf {
        self.folder(dir).join("desk.sqlite3")
    }

    /// Creates the folder, private to the user.
    pub fn create(&self, dir: &DataDir) -> Result<(), FileError> {
        let folder = self.folder(dir);
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&folder).map_err(|source| FileError::Create {
            path: folder,
            source,
        })
    }
}

/// A database from before the books were kept apart (`DIR/desk.sqlite3`, which held both
/// modes) becomes the configured merchant's, or the sandbox's when no merchant was ever set
/// up: the real refunds are the ones that must go on. Run with the desk's lock held.
pub fn adopt_legacy_database(dir: &DataDir, config: &Config) -> Result<(), FileError> {
    let legacy = dir.root().join("desk.sqlite3");
    if !legacy.exists() {
        return Ok(());
    }
    let books = match &config.merchant {
        Some(merchant) => Books::Merchant(merchant.mch_id.clone()),
        None => Books::Sandbox,
    };
    let target = books.database(dir);
    if target.exists() {
        return Ok(());
    }
    books.create(dir)?;
    // The WAL and its index go with the database (a desk that did not stop cleanly leaves
    // committed pages in the WAL).
    for suffix in ["-wal", "-shm", ""] {
        let from = dir.root().join(format!("desk.sqlite3{suffix}"));
        let to = books.folder(dir).join(format!("desk.sqlite3{suffix}"));
        if from.exists() {
            std::fs::rename(&from, &to).map_err(|source| FileError::Write { path: to, source })?;
        }
    }
    Ok(())
}

/// The merchant of a staff desk (paired as staff, with the merchant its owner's desk named).
fn staff_merchant(config: &Config) -> Option<&crate::relay::StaffMerchant> {
    config
        .relay
        .as_ref()
        .filter(|relay| relay.role == relay_protocol::Role::Staff)
        .and_then(|relay| relay.staff.as_ref())
}

/// A staff desk paired by an earlier version kept its copy of the owner's queue in
/// `merchants/<mch_id>/`, where the merchant's own books go: on a desk without a merchant of its
/// own, that folder can only be the copy, and it moves to `mirrors/<mch_id>/` once. Run with the
/// desk's lock held.
pub fn adopt_staff_mirror(dir: &DataDir, config: &Config) -> Result<(), FileError> {
    let Some(staff) = staff_merchant(config).filter(|_| config.merchant.is_none()) else {
        return Ok(());
    };
    let from = Books::Merchant(staff.mch_id.clone()).folder(dir);
    let mirror = Books::Mirror(staff.mch_id.clone());
    let to = mirror.folder(dir);
    if !from.exists() || to.exists() {
        return Ok(());
    }
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|source| FileError::Create {
            path: parent.to_owned(),
            source,
        })?;
    }
    std::fs::rename(&from, &to).map_err(|source| FileError::Write { path: to, source })
}

/// The sandbox intake's own shared secret (`DIR/sandbox/intake-secret`), made on first use:
/// testers get it in `sandbox-credentials.json`, and it opens nothing in production.
pub fn sandbox_intake_secret(dir: &DataDir) -> Result<String, FileError> {
    let path = dir.sandbox().join("intake-secret");
    if let Some(secret) = read_optional(&path)?.filter(|s| s.trim().len() >= 16) {
        return Ok(secret.trim().to_owned());
    }
    Books::Sandbox.create(dir)?;
    let secret = Config::new().intake.shared_secret;
    write_private(&path, secret.as_bytes())?;
    Ok(secret)
}
