//! The relay's routes on one guarded server, and the retention task beside it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use guarded_server::{GuardedServer, Limits};
use relay_protocol::paths;
use tokio::net::TcpListener;

use crate::metrics::Metrics;
use crate::rates::{Buckets, Rates};
use crate::seats::Seats;
use crate::store::{Retention, Store};
use crate::{desks, doors, unix_now};

/// A notification or request larger than this is refused (the desk's intake has the same cap).
const MAX_BODY: usize = 64 * 1024;
/// How often retention runs.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub retention: Retention,
    /// Seconds between tries to pass a payment notification on to the backend, the last
    /// repeated: WeChat's own schedule for its notifications (15 s, 15 s, 30 s, 3 min, ...).
    pub forward_schedule: Vec<i64>,
    /// How fast a shop, and a source, may add to the log.
    pub rates: Rates,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            retention: Retention::default(),
            forward_schedule: vec![
                15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10_800, 10_800, 10_800, 21_600,
                21_600,
            ],
            rates: Rates::default(),
        }
    }
}

/// A forward is another instance's to try after this long (this one died trying).
const FORWARD_LEASE: i64 = 60;

/// A running relay's shared state.
#[derive(Debug)]
pub struct Relay<S> {
    pub store: S,
    pub settings: Settings,
    pub metrics: Metrics,
    pub doors: GuardedServer,
    /// The desks' open event streams (two each at most).
    pub seats: Seats,
    /// What each shop and source may still add now.
    pub buckets: Buckets,
}

impl<S: Store> Relay<S> {
    pub fn new(store: S, settings: Settings) -> Arc<Relay<S>> {
        let open_files = guarded_server::process::prepare().limit;
        Arc::new(Relay {
            store,
            metrics: Metrics::default(),
            doors: GuardedServer::new(Limits::for_open_files(open_files)),
            seats: Seats::default(),
            buckets: Buckets::new(settings.rates),
            settings,
        })
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route(paths::PAYMENT_NOTIFY, post(doors::payment_notify::<S>))
            .route(paths::REFUND_NOTIFY, post(doors::refund_notify::<S>))
            .route(paths::REFUND_REQUESTS, post(doors::refund_request::<S>))
            .route(paths::PAIR, post(desks::pair::<S>))
            .route(paths::EVENTS, get(desks::events::<S>))
            .route(paths::ACK, post(desks::ack::<S>))
            .route(paths::PAIRINGS, post(desks::add_pairing::<S>))
            .route(paths::UPDATES, post(desks::add_update::<S>))
            .route(paths::MERCHANT, put(desks::set_merchant::<S>))
            .route(paths::DESKS, get(desks::list_desks::<S>))
            .route(
                &format!("{}/{{id}}", paths::DESKS),
                delete(desks::revoke_desk::<S>),
            )
            .route(paths::HEALTH, get(health::<S>))
            .route(paths::METRICS, get(metrics::<S>))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(self.clone())
    }

    /// Serves on `listener` until `shutdown`, pruning what retention lets go meanwhile.
    pub async fn serve(
        self: &Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_with(listener, None, shutdown).await
    }

    /// [`Relay::serve`], over HTTPS with `tls` (a certificate of the relay's own) when given;
    /// without, behind the shop's HTTPS reverse proxy.
    pub async fn serve_with(
        self: &Arc<Self>,
        listener: TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let pruning = tokio::spawn(prune_loop(self.clone()));
        let forwarding = tokio::spawn(forward_loop(self.clone()));
        let served = self
            .doors
            .serve_with(listener, self.router(), tls, shutdown)
            .await;
        pruning.abort();
        forwarding.abort();
        served
    }
}

async fn prune_loop<S: Store>(relay: Arc<Relay<S>>) {
    loop {
        // An error is retried at the next turn; nothing is lost by pruning late.
        let _ = relay
            .store
            .prune(relay.settings.retention, unix_now())
            .await;
        tokio::time::sleep(PRUNE_EVERY).await;
    }
}

/// Passes payment notifications on to the shop backends that asked for them, byte for byte,
/// until each backend answers SUCCESS as it would answer WeChat.
async fn forward_loop<S: Store>(relay: Arc<Relay<S>>) {
    let Ok(http) = wxpay_client::verified_client_builder(None).and_then(|builder| {
        builder
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| wxpay_client::SetupError::Client(e.to_string()))
    }) else {
        return;
    };
    let mut changes = relay.store.changes();
    loop {
        let due = relay
            .store
            .claim_forwards(unix_now(), FORWARD_LEASE, 16)
            .await
            .unwrap_or_default();
        if due.is_empty() {
            tokio::select! {
                _ = changes.changed() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        for forward in due {
            let answer = http
                .post(&forward.url)
                .header(header::CONTENT_TYPE, "text/xml; charset=utf-8")
                .body(forward.body.clone())
                .send()
                .await;
            let taken = match answer {
                Ok(reply) if reply.status().is_success() => reply
                    .text()
                    .await
                    .map(|text| backend_took(&text))
                    .unwrap_or(false),
                _ => false,
            };
            let now = unix_now();
            if taken {
                relay.metrics.forwarded(true);
                let _ = relay
                    .store
                    .forward_done(forward.shop_id, forward.seq, now)
                    .await;
            } else {
                relay.metrics.forwarded(false);
                let schedule = &relay.settings.forward_schedule;
                let index = usize::try_from(forward.attempts).unwrap_or(usize::MAX);
                let wait = schedule
                    .get(index)
                    .or(schedule.last())
                    .copied()
                    .unwrap_or(60);
                let _ = relay
                    .store
                    .forward_failed(
                        forward.shop_id,
                        forward.seq,
                        now + wait,
                        "the backend did not answer SUCCESS",
                    )
                    .await;
            }
        }
    }
}

/// The backend answered as to WeChat: `<return_code>SUCCESS</return_code>` (CDATA or not).
fn backend_took(answer: &str) -> bool {
    wxpay::xml::decode(answer.as_bytes())
        .is_ok_and(|fields| fields.get("return_code") == Some("SUCCESS"))
}

async fn health<S: Store>(State(relay): State<Arc<Relay<S>>>) -> Response {
    match relay.store.shops().await {
        Ok(_) => "ok".into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}

async fn metrics<S: Store>(State(relay): State<Arc<Relay<S>>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        relay.metrics.render(relay.doors.stats()),
    )
        .into_response()
}

/// Why the relay's own certificate cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("the certificate file is not PEM ({0}): give the chain as PEM, e.g. fullchain.pem")]
    CertificateNotPem(String),
    #[error("the certificate file holds no certificate: give the chain as PEM, e.g. fullchain.pem")]
    NoCertificate,
    #[error(
        "the key file holds no private key in PEM ({0}): give the key as PEM, e.g. privkey.pem"
    )]
    NoKey(String),
    #[error("the certificate and key cannot be served ({0}): check they belong together")]
    Rejected(String),
}

/// A TLS acceptor for the relay's own certificate chain and key (PEM files' contents).
pub fn tls_acceptor(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::CertificateNotPem(e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::NoKey(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rejected(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Rejected(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
