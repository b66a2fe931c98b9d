//! The simulator's day on disk, when asked for (`SimConfig::persist`: the app's sandbox and
//! `sim --data-dir`): orders, refunds, the ledger, balances, refund rules and the notifications
//! not acknowledged yet, in `state.json` beside its certificates. A restart goes on with the same
//! day: refunds of orders paid before it work, and what was still due is sent again.
//!
//! Written whole through a temporary file and a rename, at most every quarter second when
//! something changed and when the simulator stops; a crash loses at most that quarter second,
//! which a sandbox can afford. Tests and benchmarks keep everything in memory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::state::Snapshot;
use crate::{Shared, SimError};

pub(crate) const STATE_FILE: &str = "state.json";
const EVERY: Duration = Duration::from_millis(250);

/// The day saved in `dir`, if any. A damaged file is set aside (`state.json.damaged`) and the
/// simulator starts a fresh day rather than not at all: it is a sandbox.
pub(crate) fn load(dir: &Path) -> Result<Option<Snapshot>, SimError> {
    let path = dir.join(STATE_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SimError::io(&path, source)),
    };
    match serde_json::from_slice(&bytes) {
        Ok(snapshot) => Ok(Some(snapshot)),
        Err(error) => {
            let aside = dir.join(format!("{STATE_FILE}.damaged"));
            std::fs::rename(&path, &aside).map_err(|source| SimError::io(&path, source))?;
            eprintln!(
                "wxpay-sim: {} could not be read ({error}); it is kept as {} and a fresh day begins",
                path.display(),
                aside.display()
            );
            Ok(None)
        }
    }
}

/// Forgets the saved day (`sim --fresh`).
pub(crate) fn forget(dir: &Path) -> Result<(), SimError> {
    let path = dir.join(STATE_FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SimError::io(&path, source)),
    }
}

/// Where the day is written, and what was written last (nothing is written twice).
pub(crate) struct Persisted {
    path: PathBuf,
    last: std::sync::Mutex<Vec<u8>>,
}

impl Persisted {
    pub(crate) fn new(dir: &Path) -> Persisted {
        Persisted {
            path: dir.join(STATE_FILE),
            last: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Writes `snapshot` when it differs from the last one written.
    pub(crate) fn write(&self, snapshot: &Snapshot) -> Result<(), SimError> {
        let bytes = serde_json::to_vec(snapshot).map_err(|e| SimError::Pki(e.to_string()))?;
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if *last == bytes {
            return Ok(());
        }
        let temporary = self.path.with_extension("json.tmp");
        std::fs::write(&temporary, &bytes).map_err(|e| SimError::io(&temporary, e))?;
        std::fs::rename(&temporary, &self.path).map_err(|e| SimError::io(&self.path, e))?;
        *last = bytes;
        Ok(())
    }
}

/// Writes the day while the simulator runs.
pub(crate) async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = shutdown.changed() => return,
        }
        if let Err(error) = shared.persist() {
            eprintln!("wxpay-sim: the sandbox's day could not be saved: {error}");
        }
    }
}
