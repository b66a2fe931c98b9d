//! The merchant's client certificate: `apiclient_cert.p12` or the PEM pair, checked on load.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use p12_keystore::Pkcs12Archive;
use rustls::InconsistentKeys;
use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use wxpay::{CertPassword, MchId};

/// A client certificate (with any intermediates) and its private key, known to match.
#[derive(Clone)]
pub struct ClientIdentity {
    pub(crate) key: Arc<CertifiedKey>,
    subject: String,
    not_before: SystemTime,
    not_after: SystemTime,
}

/// A setup mistake with the merchant certificate, named so the user can fix it.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "certificate file not found: {0} (download it in 商户平台 → 账户中心 → API安全 → API证书)"
    )]
    FileMissing(PathBuf),
    #[error("cannot read {path}: {source}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the file is not a PKCS#12 (.p12) certificate: {0}")]
    NotPkcs12(String),
    #[error(
        "wrong password for the .p12 file (by default it is the merchant id), or the file is damaged"
    )]
    WrongPassword,
    #[error("the certificate file contains no private key")]
    NoPrivateKey,
    #[error("the certificate file contains no certificate")]
    NoCertificate,
    #[error("the certificate and the private key do not belong together")]
    CertKeyMismatch,
    #[error("the private key type is not supported (use RSA or ECDSA)")]
    UnsupportedKey,
    #[error("the PEM file has no {0}")]
    InvalidPem(&'static str),
    #[error("the certificate cannot be read: {0}")]
    BadCertificate(String),
    #[error(
        "the certificate expired on {0}: download a new API certificate in the merchant platform"
    )]
    Expired(String),
    #[error("the certificate is not valid before {0}: check this computer's date and time")]
    NotYetValid(String),
}

/// WeChat's default `.p12` password: the merchant id.
pub fn default_password(mch_id: &MchId) -> CertPassword {
    CertPassword::new(mch_id.as_str())
}

impl ClientIdentity {
    /// Loads `apiclient_cert.p12`, including WeChat's legacy RC2-40 encrypted files.
    pub fn from_pkcs12_file(
        path: &Path,
        password: &CertPassword,
    ) -> Result<ClientIdentity, IdentityError> {
        Self::from_pkcs12_der(&read(path)?, password)
    }

    pub fn from_pkcs12_der(
        der: &[u8],
        password: &CertPassword,
    ) -> Result<ClientIdentity, IdentityError> {
        if der.starts_with(b"-----BEGIN") {
            return Err(IdentityError::NotPkcs12(
                "it is a PEM file: import it as the PEM certificate and key instead".into(),
            ));
        }
        let archive =
            Pkcs12Archive::from_pkcs12(der, password.expose()).map_err(classify_p12_error)?;
        let key_bag = archive
            .keys
            .into_iter()
            .next()
            .ok_or(IdentityError::NoPrivateKey)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_bag.key.as_der().to_vec()));
        let certs: Vec<CertificateDer<'static>> = archive
            .certs
            .iter()
            .map(|bag| CertificateDer::from(bag.cert.as_der().to_vec()))
            .collect();
        Self::from_parts(certs, key)
    }

    /// Loads the PEM pair (`apiclient_cert.pem` and `apiclient_key.pem`).
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<ClientIdentity, IdentityError> {
        Self::from_pem(&read(cert)?, &read(key)?)
    }

    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<ClientIdentity, IdentityError> {
        let certs = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| IdentityError::InvalidPem("readable certificate"))?;
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|error| match error {
            pem::Error::NoItemsFound => IdentityError::InvalidPem("private key"),
            _ => IdentityError::InvalidPem("readable private key"),
        })?;
        if certs.is_empty() {
            return Err(IdentityError::InvalidPem("certificate"));
        }
        Self::from_parts(certs, key)
    }

    /// Puts the certificate that matches the key first; the rest are its chain.
    fn from_parts(
        mut certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<ClientIdentity, IdentityError> {
        if certs.is_empty() {
            return Err(IdentityError::NoCertificate);
        }
        let signing_key = any_supported_type(&key).map_err(|_| IdentityError::UnsupportedKey)?;
        let mut unreadable = None;
        let mut leaf = None;
        for (i, cert) in certs.iter().enumerate() {
            match CertifiedKey::new(vec![cert.clone()], signing_key.clone()).keys_match() {
                Ok(()) => {
                    leaf = Some(i);
                    break;
                }
                Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {}
                Err(other) => unreadable = Some(other.to_string()),
            }
        }
        let leaf = match (leaf, unreadable) {
            (Some(i), _) => i,
            (None, Some(reason)) => return Err(IdentityError::BadCertificate(reason)),
            (None, None) => return Err(IdentityError::CertKeyMismatch),
        };
        certs.swap(0, leaf);
        let (subject, not_before, not_after) = describe(&certs[0])?;
        Ok(ClientIdentity {
            key: Arc::new(CertifiedKey::new(certs, signing_key)),
            subject,
            not_before,
            not_after,
        })
    }

    /// The certificate must be valid at `now` (passed in, so tests can move the clock).
    pub fn check_validity(&self, now: SystemTime) -> Result<(), IdentityError> {
        if now > self.not_after {
            return Err(IdentityError::Expired(date(self.not_after)));
        }
        if now < self.not_before {
            return Err(IdentityError::NotYetValid(date(self.not_before)));
        }
        Ok(())
    }

    /// The certificate's subject, e.g. `CN=1900000109, O=...`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    /// The last day of validity as the user reads it, `YYYY-MM-DD` (UTC).
    pub fn expiry_date(&self) -> String {
        date(self.not_after)
    }
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("subject", &self.subject)
            .field("not_after", &date(self.not_after))
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, IdentityError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => IdentityError::FileMissing(path.to_owned()),
        _ => IdentityError::Unreadable {
            path: path.to_owned(),
            source,
        },
    })
}

fn classify_p12_error(error: p12_keystore::error::Error) -> IdentityError {
    use p12_keystore::error::Error as E;
    match error {
        // A wrong password fails the MAC, or (without a MAC) the decryption padding.
        E::MacError(_) | E::UnpadError | E::Pkcs5Error(_) => IdentityError::WrongPassword,
        E::DerError(_) | E::InvalidVersion | E::UnsupportedContentType => {
            IdentityError::NotPkcs12("it is not a valid .p12 file".into())
        }
        other => IdentityError::NotPkcs12(other.to_string()),
    }
}

fn describe(cert: &CertificateDer<'_>) -> Result<(String, SystemTime, SystemTime), IdentityError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|e| IdentityError::BadCertificate(e.to_string()))?;
    let validity = parsed.validity();
    Ok((
        parsed.subject().to_string(),
        unix_time(validity.not_before.timestamp()),
        unix_time(validity.not_after.timestamp()),
    ))
}

fn unix_time(seconds: i64) -> SystemTime {
    if seconds >= 0 {
        UNIX_EPOCH + Duration::from_secs(seconds.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs())
    }
}

/// `YYYY-MM-DD` (UTC), how an expiry date is shown to the user.
pub(crate) fn date(time: SystemTime) -> String {
    let seconds = match time.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| "an unrepresentable date".into())
}
