//! The data directory and how its files are written: whole or not at all, private to the user.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::StartWarning;

/// The environment variable that chooses the data directory when `--data-dir` is not given.
pub const DATA_DIR_ENV: &str = "MERCHANT_DESK_DATA_DIR";

/// Everything one desk keeps: database, config, fallback secrets, the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(
        "no data directory: pass --data-dir DIR or set {DATA_DIR_ENV} (this system has no home directory to default to)"
    )]
    NoDefault,
    #[error("cannot create the data directory {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl DataDir {
    /// `explicit` (from `--data-dir` or the environment), else the platform's data directory
    /// (`~/.local/share/merchant-desk` on Linux).
    pub fn resolve(explicit: Option<PathBuf>) -> Result<DataDir, FileError> {
        let root = match explicit {
            Some(path) => path,
            None => directories::ProjectDirs::from("cn", "Merchant Desk", "merchant-desk")
                .ok_or(FileError::NoDefault)?
                .data_dir()
                .to_owned(),
        };
        Ok(DataDir { root })
    }

    /// Creates the directory (private to the user) if it does not exist. One that exists is
    /// checked by [`make_private`] when the desk starts.
    pub fn create(&self) -> Result<(), FileError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&self.root)
            .map_err(|source| FileError::Create {
                path: self.root.clone(),
                source,
            })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// Where the API key and certificate password live when there is no OS keyring.
    pub fn secrets_fallback(&self) -> PathBuf {
        self.root.join("secrets.json")
    }

    pub fn lock(&self) -> PathBuf {
        self.root.join("desk.lock")
    }

    /// The sandbox's folder: the simulator's files (its CA, the sandbox merchant's
    /// certificates) and the sandbox's books.
    pub fn sandbox(&self) -> PathBuf {
        self.root.join("sandbox")
    }

    /// The sandbox merchant's credentials and the intake's URL, for testers.
    pub fn sandbox_credentials(&self) -> PathBuf {
        self.root.join("sandbox-credentials.json")
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so readers see the old file
/// or the new one, never half of one. The file is readable only by the user.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let failed = |source| FileError::Write {
        path: path.to_owned(),
        source,
    };
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary).map_err(failed)?;
    // A file left from an older version with wider permissions is narrowed too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(failed)?;
    }
    file.write_all(bytes).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    drop(file);
    std::fs::rename(&temporary, path).map_err(failed)
}

/// The file's contents, or `None` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>, FileError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(FileError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// At most this many entries are looked at (the data directory holds a few dozen).
#[cfg(unix)]
const MOST_ENTRIES: usize = 10_000;

/// Makes every file (0600) and folder (0700) under `root` private again where someone loosened
/// it, and says what it found (as the warnings the desk starts with). Symbolic links are not
/// followed.
pub fn make_private(root: &Path) -> Vec<StartWarning> {
    #[cfg_attr(not(unix), allow(unused_mut))]
    let mut found = Vec::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let me = rustix::process::geteuid().as_raw();
        let mut pending = vec![root.to_owned()];
        let mut seen = 0;
        while let Some(path) = pending.pop() {
            seen += 1;
            if seen > MOST_ENTRIES {
                break;
            }
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                continue;
            }
            if meta.uid() != me {
                found.push(StartWarning::NotOurs {
                    path: path.display().to_string(),
                });
            } else if meta.mode() & 0o077 != 0 {
                let mode = meta.mode() & 0o7777;
                let private = if meta.is_dir() { 0o700 } else { 0o600 };
                if std::fs::set_permissions(&path, std::fs::Permissions::from_mode(private)).is_ok()
                {
                    found.push(StartWarning::MadePrivate {
                        path: path.display().to_string(),
                        mode,
                    });
                }
            }
            if meta.is_dir()
                && let Ok(entries) = std::fs::read_dir(&path)
            {
                pending.extend(entries.flatten().map(|entry| entry.path()));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = root;
    found
}
