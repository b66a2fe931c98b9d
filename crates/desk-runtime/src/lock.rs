//! One running desk per data directory: two engines would each follow the same refunds (safe,
//! thanks to conditional updates, but wasteful) and two intakes cannot share a port anyway.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// Held while the desk runs; the OS releases it when the process ends, however it ends.
#[derive(Debug)]
pub struct DeskLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another Merchant Desk (the app or `merchant-desk-cli serve`) is already running on {0}: use that one, or stop it first"
    )]
    Busy(PathBuf),
    #[error("cannot lock {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl DeskLock {
    pub fn acquire(path: &Path, data_dir: &Path) -> Result<DeskLock, LockError> {
        let io = |source| LockError::Io {
            path: path.to_owned(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(DeskLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(LockError::Busy(data_dir.to_owned())),
            Err(TryLockError::Error(source)) => Err(io(source)),
        }
    }
}
