//! HTTPS with rustls: server verification always on, the merchant certificate when configured.

use std::error::Error as StdError;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::client::ResolvesClientCert;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::sign::CertifiedKey;
use rustls::{AlertDescription, CertificateError, RootCertStore, SignatureScheme};
use wxpay::{MAX_BODY_BYTES, TlsProblem, TransportError, TransportErrorKind};

use crate::identity::{ClientIdentity, IdentityError};

/// WeChat Pay's API host.
pub const PRODUCTION_BASE_URL: &str = "https://api.mch.weixin.qq.com";
/// WeChat's backup domain (跨城冗灾), for when the main one is unreachable.
pub const BACKUP_BASE_URL: &str = "https://api2.mch.weixin.qq.com";

/// A raw HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Sends a v2 body to a path. The real one is [`HttpsTransport`]; a simulator or a recording
/// transport can stand in below the line a user sees.
pub trait Transport: Send + Sync {
    fn post(
        &self,
        path: &'static str,
        body: String,
        needs_client_cert: bool,
    ) -> impl Future<Output = Result<HttpReply, TransportError>> + Send;
}

/// How to reach WeChat Pay (or the simulator).
#[derive(Debug, Clone)]
pub struct HttpsSettings {
    /// `https://` only: peer verification is always on.
    pub base_url: String,
    pub connect_timeout: Duration,
    /// The whole exchange, request to last byte of the answer.
    pub request_timeout: Duration,
    /// One more trusted root, beside the public roots (the simulator's CA).
    pub extra_root_ca_pem: Option<Vec<u8>>,
    /// The merchant certificate; refunds need it.
    pub identity: Option<ClientIdentity>,
}

impl Default for HttpsSettings {
    fn default() -> Self {
        HttpsSettings {
            base_url: PRODUCTION_BASE_URL.to_owned(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            extra_root_ca_pem: None,
            identity: None,
        }
    }
}

/// A setup mistake found before any request is sent.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("the CA certificate file has no readable certificate")]
    CaCertificate,
    #[error("the CA certificate cannot be trusted: {0}")]
    CaRejected(String),
    #[error("the API address must start with https:// (got {0:?})")]
    BaseUrl(String),
    #[error("cannot read the CA file {path}: {source}")]
    CaUnreadable {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the HTTPS client could not be built: {0}")]
    Client(String),
}

impl HttpsSettings {
    /// Reads the extra root CA from a PEM file.
    pub fn with_extra_root_ca_file(mut self, path: &Path) -> Result<Self, SetupError> {
        let pem = std::fs::read(path).map_err(|source| SetupError::CaUnreadable {
            path: path.to_owned(),
            source,
        })?;
        self.extra_root_ca_pem = Some(pem);
        Ok(self)
    }
}

/// The real transport: reqwest over rustls (ring), HTTP/1.1.
#[derive(Debug, Clone)]
pub struct HttpsTransport {
    client: reqwest::Client,
    base_url: String,
    has_identity: bool,
}

impl HttpsTransport {
    /// Builds the client. `now` checks the certificate's validity dates.
    pub fn new(settings: HttpsSettings, now: SystemTime) -> Result<HttpsTransport, SetupError> {
        let base_url = settings.base_url.trim_end_matches('/').to_owned();
        if !base_url.starts_with("https://") {
            return Err(SetupError::BaseUrl(settings.base_url));
        }
        let roots = root_store(settings.extra_root_ca_pem.as_deref())?;
        if let Some(identity) = &settings.identity {
            identity.check_validity(now)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SetupError::Client(e.to_string()))?
            .with_root_certificates(roots);
        let mut tls = match &settings.identity {
            Some(identity) => {
                builder.with_client_cert_resolver(Arc::new(FixedIdentity(identity.key.clone())))
            }
            None => builder.with_no_client_auth(),
        };
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .https_only(true)
            .http1_only()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .build()
            .map_err(|e| SetupError::Client(e.to_string()))?;
        Ok(HttpsTransport {
            client,
            base_url,
            has_identity: settings.identity.is_some(),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

/// Always offers the merchant certificate when the server asks for one.
#[derive(Debug)]
struct FixedIdentity(Arc<CertifiedKey>);

impl ResolvesClientCert for FixedIdentity {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

impl Transport for HttpsTransport {
    async fn post(
        &self,
        path: &'static str,
        body: String,
        needs_client_cert: bool,
    ) -> Result<HttpReply, TransportError> {
        if needs_client_cert && !self.has_identity {
            return Err(TransportError::before_sending(
                TransportErrorKind::ClientCertificateMissing,
                format!("{path} requires the merchant certificate"),
            ));
        }
        let response = self
            .client
            .post(format!("{}{path}", self.base_url))
            .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=utf-8")
            .body(body)
            .send()
            .await
            .map_err(classify)?;
        let status = response.status().as_u16();
        // Read at most one byte past the largest v2 message: a broken or hostile peer cannot
        // make us buffer more, and the caller still sees that the answer was too large.
        let mut body = Vec::new();
        let mut response = response;
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            let room = MAX_BODY_BYTES + 1 - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() > MAX_BODY_BYTES {
                break;
            }
        }
        Ok(HttpReply { status, body })
    }
}

/// The public roots, and one more CA when given (a test server's).
fn root_store(extra_root_ca_pem: Option<&[u8]>) -> Result<RootCertStore, SetupError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = extra_root_ca_pem {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| SetupError::CaCertificate)?;
        if certs.is_empty() {
            return Err(SetupError::CaCertificate);
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| SetupError::CaRejected(e.to_string()))?;
        }
    }
    Ok(roots)
}

/// An HTTPS-only client with the same trust as the WeChat Pay transport (verification always
/// on), for the desk's other outbound checks (its own public address).
pub fn https_client(
    extra_root_ca_pem: Option<&[u8]>,
    timeout: Duration,
) -> Result<reqwest::Client, SetupError> {
    verified_client_builder(extra_root_ca_pem)?
        .https_only(true)
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
        .map_err(|e| SetupError::Client(e.to_string()))
}

/// A client builder with that trust (public roots, one more CA when given, verification always
/// on) and HTTP/1.1, for callers that set their own timeouts (the relay's event stream).
pub fn verified_client_builder(
    extra_root_ca_pem: Option<&[u8]>,
) -> Result<reqwest::ClientBuilder, SetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SetupError::Client(e.to_string()))?
        .with_root_certificates(root_store(extra_root_ca_pem)?)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .http1_only())
}

/// Why a request of [`https_client`]'s failed, named like the transport's failures.
pub fn describe_failure(error: reqwest::Error) -> TransportError {
    classify(error)
}

/// Names the cause of a reqwest failure from its source chain.
pub(crate) fn classify(error: reqwest::Error) -> TransportError {
    let detail = chain_text(&error);
    // Connecting covers TCP and the TLS handshake: nothing of the request was sent yet. Any
    // later failure (TLS 1.3 reports a refused client certificate only then) may follow it.
    let made = |kind| {
        if error.is_connect() {
            TransportError::before_sending(kind, detail.clone())
        } else {
            TransportError::new(kind, detail.clone())
        }
    };
    if let Some(tls) = find_rustls_error(&error) {
        return made(tls_kind(tls));
    }
    made(if error.is_timeout() {
        TransportErrorKind::Timeout
    } else if error.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::ConnectionLost
    })
}

fn tls_kind(error: &rustls::Error) -> TransportErrorKind {
    use CertificateError as C;
    match error {
        rustls::Error::InvalidCertificate(cert) => TransportErrorKind::Tls(match cert {
            C::UnknownIssuer | C::BadSignature | C::InvalidPurpose => TlsProblem::ServerNotTrusted,
            C::Expired | C::ExpiredContext { .. } => TlsProblem::ServerCertificateExpired,
            C::NotValidForName | C::NotValidForNameContext { .. } => TlsProblem::ServerNameMismatch,
            _ => TlsProblem::Other,
        }),
        // The server refused our certificate (or its absence).
        rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateExpired
            | AlertDescription::AccessDenied
            | AlertDescription::DecryptError,
        ) => TransportErrorKind::ClientCertificateRejected,
        _ => TransportErrorKind::Tls(TlsProblem::Other),
    }
}

fn find_rustls_error<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        // io::Error::source() skips the error it wraps (and io errors nest): step into it.
        current = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner),
            None => e.source(),
        };
    }
    None
}

fn chain_text(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut current = error.source();
    while let Some(e) = current {
        let part = e.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        current = e.source();
    }
    text
}
