//! The merchant's certificate files in the data directory's `certificates/` folder. Each setup
//! writes a new folder beside the one in use; the configuration switches to it only after every
//! check passed, and the old folders go once it has.

use std::path::{Path, PathBuf};

use crate::config::CertificateConfig;
use crate::files::{DataDir, FileError, write_private};

/// The certificate as the owner picked it: the files' bytes.
#[derive(Clone)]
pub enum CertificateFiles {
    /// `apiclient_cert.p12`.
    P12(Vec<u8>),
    /// `apiclient_cert.pem` and `apiclient_key.pem`.
    Pem { cert: Vec<u8>, key: Vec<u8> },
}

impl std::fmt::Debug for CertificateFiles {
    // The private key never goes to a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertificateFiles::P12(bytes) => write!(f, "P12({} bytes)", bytes.len()),
            CertificateFiles::Pem { cert, .. } => write!(f, "Pem({} bytes + key)", cert.len()),
        }
    }
}

pub fn folder(dir: &DataDir) -> PathBuf {
    dir.root().join("certificates")
}

/// Writes `files` into a new folder of `certificates/` and says where they are. Nothing in
/// use is touched.
pub fn write_new(
    dir: &DataDir,
    mch_id: &str,
    files: &CertificateFiles,
    stamp: u128,
) -> Result<(PathBuf, CertificateConfig), FileError> {
    let folder = folder(dir).join(format!("{mch_id}-{stamp}"));
    create_private_dir(&folder)?;
    let config = match files {
        CertificateFiles::P12(bytes) => {
            let p12 = folder.join("apiclient_cert.p12");
            write_private(&p12, bytes)?;
            CertificateConfig::Pkcs12 { p12 }
        }
        CertificateFiles::Pem { cert, key } => {
            let cert_pem = folder.join("apiclient_cert.pem");
            let key_pem = folder.join("apiclient_key.pem");
            write_private(&cert_pem, cert)?;
            write_private(&key_pem, key)?;
            CertificateConfig::Pem { cert_pem, key_pem }
        }
    };
    Ok((folder, config))
}

/// Removes everything in `certificates/` but `keep`: copies of keys nobody uses are a risk.
/// Best effort: a file that cannot be removed now is removed after the next setup.
pub fn remove_all_but(dir: &DataDir, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(folder(dir)) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path == keep {
            continue;
        }
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

/// Creates `path` and its missing parents, each readable only by the user.
fn create_private_dir(path: &Path) -> Result<(), FileError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).map_err(|source| FileError::Create {
        path: path.to_owned(),
        source,
    })
}
