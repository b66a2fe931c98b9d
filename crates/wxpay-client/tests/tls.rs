//! Mutual TLS against a local HTTPS server that requires a client certificate, and every named
//! setup and transport failure.

#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use wxpay::sign::{Expect, sign_and_encode, verify};
use wxpay::*;
use wxpay_client::*;

const KEY: &str = "0123456789abcdef0123456789abcdef";
const APPID: &str = "wx8888888888888888";
const MCH_ID: &str = "1900000109";

fn merchant() -> Merchant {
    Merchant {
        appid: AppId::new(APPID).unwrap(),
        mch_id: MchId::new(MCH_ID).unwrap(),
        api_key: ApiKey::new(KEY).unwrap(),
        sign_type: SignType::HmacSha256,
    }
}

// ------------------------------------------------------------------ PKI

struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        Ca {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A leaf certificate; `days` may be negative for an expired one.
    fn leaf(&self, names: &[&str], common_name: &str, days: i64) -> Leaf {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let now = time::OffsetDateTime::now_utc();
        if days < 0 {
            params.not_before = now - time::Duration::days(30);
            params.not_after = now + time::Duration::days(days);
        } else {
            params.not_before = now - time::Duration::days(1);
            params.not_after = now + time::Duration::days(days);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }
}

struct Leaf {
    cert_pem: String,
    key_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl Leaf {
    fn identity(&self) -> ClientIdentity {
        ClientIdentity::from_pem(self.cert_pem.as_bytes(), self.key_pem.as_bytes()).unwrap()
    }
}

// ------------------------------------------------------------------ a WeChat-like HTTPS server

#[derive(Clone, Copy)]
enum ClientAuth {
    /// The TLS handshake requires a certificate from the given CA.
    Required,
    /// Like WeChat's nginx: the handshake lets anyone in; the HTTP layer answers 400 without one.
    NginxOptional,
}

struct Server {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
}

impl Server {
    fn settings(&self, ca: &Ca, identity: Option<ClientIdentity>) -> HttpsSettings {
        HttpsSettings {
            base_url: format!("https://localhost:{}", self.addr.port()),
            extra_root_ca_pem: Some(ca.pem().into_bytes()),
            identity,
            request_timeout: Duration::from_secs(5),
            ..HttpsSettings::default()
        }
    }
}

async fn start_server(
    server_leaf: &Leaf,
    client_ca_pem: &str,
    auth: ClientAuth,
    answer: fn(&[u8]) -> (u16, String),
) -> Server {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(client_ca_pem.as_bytes()).map(Result::unwrap) {
        roots.add(cert).unwrap();
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
    let verifier = match auth {
        ClientAuth::Required => verifier.build().unwrap(),
        ClientAuth::NginxOptional => verifier.allow_unauthenticated().build().unwrap(),
    };
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![server_leaf.cert_der.clone()],
            PrivateKeyDer::try_from(server_leaf.key_der.clone()).unwrap(),
        )
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let has_cert = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .is_some_and(|c| !c.is_empty());
                let service = service_fn(move |request: hyper::Request<Incoming>| {
                    let counter = counter.clone();
                    async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let body = request.into_body().collect().await?.to_bytes();
                        let (status, text) = if has_cert {
                            answer(&body)
                        } else {
                            (400, "<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>No required SSL certificate was sent</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>".to_owned())
                        };
                        Ok::<_, hyper::Error>(
                            hyper::Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from(text)))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Server { addr, requests }
}

/// Accepts a refund the way WeChat does: verify the request's signature, echo its numbers.
fn accept_refund(body: &[u8]) -> (u16, String) {
    let key = ApiKey::new(KEY).unwrap();
    let request = wxpay::xml::decode(body).unwrap();
    assert_eq!(
        verify(&request, &key, Expect::Exactly(SignType::HmacSha256)),
        Ok(SignType::HmacSha256),
        "the client signs its requests"
    );
    let mut pairs: Vec<(String, String)> = [
        ("return_code", "SUCCESS"),
        ("return_msg", "OK"),
        ("result_code", "SUCCESS"),
        ("appid", APPID),
        ("mch_id", MCH_ID),
        ("nonce_str", "srv"),
        ("transaction_id", "4200000001202611230000000001"),
        ("refund_id", "50000000012026112300000000001"),
        ("cash_fee", "1000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for echoed in [
        "out_trade_no",
        "out_refund_no",
        "refund_fee",
        "total_fee",
        "sign_type",
    ] {
        pairs.push((echoed.to_owned(), request.get(echoed).unwrap().to_owned()));
    }
    let body = sign_and_encode(
        Fields::from_pairs(pairs).unwrap(),
        &key,
        SignType::HmacSha256,
    )
    .unwrap();
    (200, body)
}

fn refund() -> RefundRequest {
    RefundRequest {
        order: OrderRef::OutTradeNo(OutTradeNo::new("MD20261123000001").unwrap()),
        out_refund_no: OutRefundNo::new("MD20261123000001-R1").unwrap(),
        total_fee: Fen::new(1000),
        refund_fee: Fen::new(250),
        refund_fee_type: None,
        refund_desc: Some("尺码不合适".into()),
        refund_account: None,
        notify_url: None,
    }
}

struct World {
    server_ca: Ca,
    merchant_ca: Ca,
    server_leaf: Leaf,
}

impl World {
    /// A WeChat-like server with this world's server certificate, trusting the merchant CA.
    async fn server(&self, auth: ClientAuth, answer: fn(&[u8]) -> (u16, String)) -> Server {
        start_server(&self.server_leaf, &self.merchant_ca.pem(), auth, answer).await
    }

    /// A valid merchant certificate from the CA the servers trust.
    fn identity(&self) -> Option<ClientIdentity> {
        Some(self.merchant_ca.leaf(&[], MCH_ID, 365).identity())
    }
}

fn world() -> World {
    let server_ca = Ca::new("Test WeChat server CA");
    let server_leaf = server_ca.leaf(&["localhost", "127.0.0.1"], "localhost", 30);
    World {
        server_ca,
        merchant_ca: Ca::new("Test merchant CA"),
        server_leaf,
    }
}

async fn refund_with(settings: HttpsSettings) -> Result<RefundResponse, Error> {
    let transport = HttpsTransport::new(settings, SystemTime::now()).unwrap();
    WxPayClient::new(merchant(), transport)
        .execute(&refund())
        .await
}

fn transport_kind(result: Result<RefundResponse, Error>) -> TransportErrorKind {
    match result {
        Err(Error::Transport(e)) => e.kind,
        other => panic!("expected a transport error, got {other:?}"),
    }
}

// ------------------------------------------------------------------ tests

#[tokio::test]
async fn refund_over_mutual_tls_with_a_pem_identity() {
    let w = world();
    let server = w.server(ClientAuth::Required, accept_refund).await;
    let identity = w.merchant_ca.leaf(&[], MCH_ID, 365).identity();
    let response = refund_with(server.settings(&w.server_ca, Some(identity)))
        .await
        .unwrap();
    assert_eq!(response.refund_fee, Fen::new(250));
    assert_eq!(response.out_refund_no.as_str(), "MD20261123000001-R1");
    assert_eq!(server.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn legacy_rc2_p12_from_openssl_loads_with_the_merchant_id_password() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let legacy_ca = std::fs::read_to_string(data.join("legacy_ca.pem")).unwrap();
    let password = default_password(&MchId::new(MCH_ID).unwrap());
    let identity =
        ClientIdentity::from_pkcs12_file(&data.join("apiclient_cert_legacy.p12"), &password)
            .unwrap();
    assert!(
        identity.subject().contains("CN=1900000109"),
        "{}",
        identity.subject()
    );

    let w = world();
    let server = start_server(
        &w.server_leaf,
        &legacy_ca,
        ClientAuth::Required,
        accept_refund,
    )
    .await;
    let response = refund_with(server.settings(&w.server_ca, Some(identity)))
        .await
        .unwrap();
    assert_eq!(response.refund_fee, Fen::new(250));

    let wrong = ClientIdentity::from_pkcs12_file(
        &data.join("apiclient_cert_legacy.p12"),
        &CertPassword::new("10000100"),
    );
    assert!(
        matches!(wrong, Err(IdentityError::WrongPassword)),
        "{wrong:?}"
    );
}

#[tokio::test]
async fn modern_p12_round_trip_and_wrong_password() {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    let w = world();
    let leaf = w.merchant_ca.leaf(&[], MCH_ID, 365);
    let mut store = KeyStore::new();
    let chain = PrivateKeyChain::new(
        b"k1".to_vec(),
        PrivateKey::from_der(&leaf.key_der).unwrap(),
        [Certificate::from_der(leaf.cert_der.as_ref()).unwrap()],
    );
    store.add_entry("Tenpay Certificate", KeyStoreEntry::PrivateKeyChain(chain));
    let der = store.writer(MCH_ID).write().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apiclient_cert.p12");
    std::fs::write(&path, &der).unwrap();

    let identity = ClientIdentity::from_pkcs12_file(&path, &CertPassword::new(MCH_ID)).unwrap();
    let server = w.server(ClientAuth::Required, accept_refund).await;
    assert!(
        refund_with(server.settings(&w.server_ca, Some(identity)))
            .await
            .is_ok()
    );

    let err = ClientIdentity::from_pkcs12_file(&path, &CertPassword::new("wrong")).unwrap_err();
    assert!(matches!(err, IdentityError::WrongPassword), "{err:?}");
    assert!(
        !format!("{err} {err:?}").contains(MCH_ID),
        "the password never appears in an error"
    );
}

#[tokio::test]
async fn without_a_certificate_a_refund_is_not_sent() {
    let w = world();
    let server = w.server(ClientAuth::Required, accept_refund).await;
    let result = refund_with(server.settings(&w.server_ca, None)).await;
    assert_eq!(
        transport_kind(result),
        TransportErrorKind::ClientCertificateMissing
    );
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        0,
        "nothing reached the server"
    );
}

#[tokio::test]
async fn a_server_that_gets_no_certificate_answers_like_wechat_nginx() {
    let w = world();
    let server = w.server(ClientAuth::NginxOptional, accept_refund).await;
    // Order query needs no certificate, so the client sends none; the server's 400 page is named.
    let transport =
        HttpsTransport::new(server.settings(&w.server_ca, None), SystemTime::now()).unwrap();
    let reply = transport
        .post("/secapi/pay/refund", "<xml></xml>".into(), false)
        .await
        .unwrap();
    let err = v2_body(reply).unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::ClientCertificateRejected);
    assert_eq!(err.detail, "400 No required SSL certificate was sent");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_rejected_by_the_server() {
    let w = world();
    let server = w.server(ClientAuth::Required, accept_refund).await;
    let foreign = Ca::new("Someone else's CA")
        .leaf(&[], MCH_ID, 365)
        .identity();
    let result = refund_with(server.settings(&w.server_ca, Some(foreign))).await;
    assert_eq!(
        transport_kind(result),
        TransportErrorKind::ClientCertificateRejected
    );
}

#[tokio::test]
async fn server_certificate_problems_are_named() {
    let w = world();

    // A server whose CA we do not trust.
    let server = w.server(ClientAuth::Required, accept_refund).await;
    let mut settings = server.settings(&w.server_ca, w.identity());
    settings.extra_root_ca_pem = None;
    let result = refund_with(settings).await;
    assert_eq!(
        transport_kind(result),
        TransportErrorKind::Tls(TlsProblem::ServerNotTrusted)
    );
    assert_eq!(server.requests.load(Ordering::SeqCst), 0);

    // An expired server certificate.
    let expired = w.server_ca.leaf(&["localhost"], "localhost", -1);
    let server = start_server(
        &expired,
        &w.merchant_ca.pem(),
        ClientAuth::Required,
        accept_refund,
    )
    .await;
    let result = refund_with(server.settings(&w.server_ca, w.identity())).await;
    assert_eq!(
        transport_kind(result),
        TransportErrorKind::Tls(TlsProblem::ServerCertificateExpired)
    );

    // A certificate for another host name.
    let other_host = w
        .server_ca
        .leaf(&["pay.other.example"], "pay.other.example", 30);
    let server = start_server(
        &other_host,
        &w.merchant_ca.pem(),
        ClientAuth::Required,
        accept_refund,
    )
    .await;
    let result = refund_with(server.settings(&w.server_ca, w.identity())).await;
    assert_eq!(
        transport_kind(result),
        TransportErrorKind::Tls(TlsProblem::ServerNameMismatch)
    );
}

#[tokio::test]
async fn unreachable_and_silent_servers() {
    let w = world();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let settings = HttpsSettings {
        base_url: format!("https://localhost:{port}"),
        extra_root_ca_pem: Some(w.server_ca.pem().into_bytes()),
        identity: w.identity(),
        ..HttpsSettings::default()
    };
    let err = refund_with(settings.clone()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind == TransportErrorKind::Connect),
        "{err:?}"
    );
    assert!(
        matches!(&err, Error::Transport(t) if t.written == Written::Not),
        "nothing was sent: {err:?}"
    );

    // A server that accepts the connection and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let settings = HttpsSettings {
        base_url: format!("https://localhost:{port}"),
        request_timeout: Duration::from_millis(300),
        ..settings
    };
    let err = refund_with(settings).await.unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind == TransportErrorKind::Timeout),
        "{err:?}"
    );
}

#[tokio::test]
async fn server_errors_and_garbage_leave_the_outcome_unknown() {
    let w = world();
    let server = w
        .server(ClientAuth::Required, |_| {
            (
                503,
                "<html><title>503 Service Unavailable</title></html>".into(),
            )
        })
        .await;
    let err = refund_with(server.settings(&w.server_ca, w.identity()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Transport(t) if t.kind == TransportErrorKind::HttpStatus(503) && t.written == Written::Maybe),
        "{err:?}"
    );

    let server = w
        .server(ClientAuth::Required, |_| {
            (200, "<xml><return_code>SUC".into())
        })
        .await;
    let err = refund_with(server.settings(&w.server_ca, w.identity()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Xml(XmlError::Truncated { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_oversized_answer_is_cut_off_and_named() {
    let w = world();
    let identity = w.identity();
    let server = w
        .server(ClientAuth::Required, |_| {
            (
                200,
                format!("<xml><a>{}</a></xml>", "x".repeat(8 * 1024 * 1024)),
            )
        })
        .await;
    let transport =
        HttpsTransport::new(server.settings(&w.server_ca, identity), SystemTime::now()).unwrap();
    let reply = transport
        .post("/pay/orderquery", "<xml/>".into(), false)
        .await
        .unwrap();
    assert_eq!(
        reply.body.len(),
        MAX_BODY_BYTES + 1,
        "reading stops just past the limit"
    );
    let err = v2_body(reply).unwrap_err();
    assert_eq!(err.kind, TransportErrorKind::NotXml);
    assert_eq!(err.detail, "the answer is larger than 65536 bytes");
}

#[test]
fn identity_setup_mistakes_are_named() {
    let ca = Ca::new("Test merchant CA");
    let dir = tempfile::tempdir().unwrap();

    let missing = ClientIdentity::from_pkcs12_file(
        &dir.path().join("apiclient_cert.p12"),
        &CertPassword::new(MCH_ID),
    );
    assert!(
        matches!(&missing, Err(IdentityError::FileMissing(p)) if p.ends_with("apiclient_cert.p12")),
        "{missing:?}"
    );

    let a = ca.leaf(&[], MCH_ID, 365);
    let b = ca.leaf(&[], MCH_ID, 365);
    let swapped = ClientIdentity::from_pem(a.cert_pem.as_bytes(), b.key_pem.as_bytes());
    assert!(
        matches!(swapped, Err(IdentityError::CertKeyMismatch)),
        "{swapped:?}"
    );

    let reversed = ClientIdentity::from_pem(a.key_pem.as_bytes(), a.cert_pem.as_bytes());
    assert!(
        matches!(reversed, Err(IdentityError::InvalidPem(_))),
        "{reversed:?}"
    );

    let pem_as_p12 =
        ClientIdentity::from_pkcs12_der(a.cert_pem.as_bytes(), &CertPassword::new(MCH_ID))
            .unwrap_err();
    assert!(pem_as_p12.to_string().contains("PEM"), "{pem_as_p12}");
    let junk = ClientIdentity::from_pkcs12_der(b"\x30\x03junk", &CertPassword::new(MCH_ID));
    assert!(matches!(junk, Err(IdentityError::NotPkcs12(_))), "{junk:?}");

    let expired = ca.leaf(&[], MCH_ID, -2).identity();
    let err = HttpsTransport::new(
        HttpsSettings {
            identity: Some(expired),
            ..HttpsSettings::default()
        },
        SystemTime::now(),
    )
    .unwrap_err();
    assert!(
        matches!(err, SetupError::Identity(IdentityError::Expired(_))),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("the certificate expired on 20"),
        "{err}"
    );

    let valid = a.identity();
    let in_ten_years = SystemTime::now() + Duration::from_secs(10 * 366 * 86400);
    assert!(matches!(
        valid.check_validity(in_ten_years),
        Err(IdentityError::Expired(_))
    ));
    assert!(valid.check_validity(SystemTime::now()).is_ok());

    let err = HttpsTransport::new(
        HttpsSettings {
            base_url: "http://api.mch.weixin.qq.com".into(),
            ..HttpsSettings::default()
        },
        SystemTime::now(),
    )
    .unwrap_err();
    assert!(
        matches!(err, SetupError::BaseUrl(_)),
        "peer verification cannot be switched off by using http"
    );

    let err = HttpsTransport::new(
        HttpsSettings {
            extra_root_ca_pem: Some(b"not a pem".to_vec()),
            ..HttpsSettings::default()
        },
        SystemTime::now(),
    )
    .unwrap_err();
    assert!(matches!(err, SetupError::CaCertificate), "{err:?}");
}
