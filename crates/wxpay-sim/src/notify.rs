//! Delivers payment and refund notifications the way WeChat does: POST the XML, and unless the
//! answer is the SUCCESS reply, try again on WeChat's schedule (24 h 4 min in all), sometimes
//! sending a duplicate within seconds.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::RngExt;
use rustls::pki_types::CertificateDer;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use wxpay::NotifyReply;

use crate::state::{NotificationKind, Outgoing};

/// Waits between attempts after the first: 15s, 15s, 30s, 3m, 10m, 20m, 30m, 30m, 30m, 60m, 3h,
/// 3h, 3h, 6h, 6h.
pub const RETRY_SCHEDULE: [Duration; 15] = [
    Duration::from_secs(15),
    Duration::from_secs(15),
    Duration::from_secs(30),
    Duration::from_secs(180),
    Duration::from_secs(600),
    Duration::from_secs(1200),
    Duration::from_secs(1800),
    Duration::from_secs(1800),
    Duration::from_secs(1800),
    Duration::from_secs(3600),
    Duration::from_secs(10800),
    Duration::from_secs(10800),
    Duration::from_secs(10800),
    Duration::from_secs(21600),
    Duration::from_secs(21600),
];

#[derive(Debug, Clone, Copy)]
pub struct NotifierSettings {
    /// Multiplies every wait (0.001 turns a day of retries into under 90 seconds).
    pub time_scale: f64,
    /// Chance that a notification is also sent a second time within seconds.
    pub duplicate_probability: f64,
    pub timeout: Duration,
}

/// One delivery attempt, for tests and the control API.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Delivery {
    pub kind: NotificationKind,
    /// `out_trade_no` or `out_refund_no`.
    pub subject: String,
    pub url: String,
    /// 0 for the first send; 1.. for retries.
    pub attempt: usize,
    pub duplicate: bool,
    /// True when the receiver answered the SUCCESS reply.
    pub acknowledged: bool,
    pub outcome: String,
}

pub(crate) type DeliveryLog = Arc<Mutex<Vec<Delivery>>>;

/// Notifications not acknowledged yet, by [`due_key`]: kept on disk by `persist.rs` so a
/// restarted simulator sends them again, as WeChat would go on retrying.
pub(crate) type Due = Arc<Mutex<BTreeMap<String, Outgoing>>>;

pub(crate) fn due_key(notification: &Outgoing) -> String {
    format!("{:?}:{}", notification.kind, notification.subject)
}

pub(crate) async fn run(
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    settings: NotifierSettings,
    ca: CertificateDer<'static>,
    log: DeliveryLog,
    due: Due,
    shutdown: watch::Receiver<bool>,
) {
    let client = match http_client(settings.timeout, ca) {
        Ok(client) => client,
        Err(_) => return,
    };
    let mut stop = shutdown.clone();
    loop {
        let next = tokio::select! {
            next = outgoing.recv() => next,
            _ = stop.changed() => None,
        };
        let Some(notification) = next else { return };
        let duplicate = rand::rng().random_bool(settings.duplicate_probability.clamp(0.0, 1.0));
        let notification = Arc::new(notification);
        tokio::spawn(deliver(
            client.clone(),
            notification.clone(),
            settings,
            log.clone(),
            Some(due.clone()),
            shutdown.clone(),
            false,
        ));
        if duplicate {
            tokio::spawn(deliver(
                client.clone(),
                notification,
                settings,
                log.clone(),
                None,
                shutdown.clone(),
                true,
            ));
        }
    }
}

/// Sends until acknowledged or the schedule runs out, then it is no longer due (`due` is the
/// original's, not a duplicate's). A duplicate is a single extra send.
#[allow(clippy::too_many_arguments)]
async fn deliver(
    client: reqwest::Client,
    notification: Arc<Outgoing>,
    settings: NotifierSettings,
    log: DeliveryLog,
    due: Option<Due>,
    mut shutdown: watch::Receiver<bool>,
    duplicate: bool,
) {
    let done = || {
        if let Some(due) = &due
            && let Ok(mut due) = due.lock()
        {
            due.remove(&due_key(&notification));
        }
    };
    let waits = std::iter::once(if duplicate {
        Duration::from_secs(2)
    } else {
        Duration::ZERO
    })
    .chain(
        if duplicate {
            &[][..]
        } else {
            &RETRY_SCHEDULE[..]
        }
        .iter()
        .copied(),
    );
    for (attempt, wait) in waits.enumerate() {
        let wait = wait.mul_f64(settings.time_scale.max(0.0));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
        let (acknowledged, outcome) = send(&client, &notification).await;
        if let Ok(mut log) = log.lock() {
            log.push(Delivery {
                kind: notification.kind,
                subject: notification.subject.clone(),
                url: notification.url.clone(),
                attempt,
                duplicate,
                acknowledged,
                outcome,
            });
        }
        if acknowledged {
            done();
            return;
        }
    }
    done();
}

async fn send(client: &reqwest::Client, notification: &Outgoing) -> (bool, String) {
    let response = client
        .post(&notification.url)
        .header(reqwest::header::CONTENT_TYPE, "text/xml")
        .body(notification.body.clone())
        .send()
        .await;
    match response {
        Err(e) => (false, format!("not delivered: {}", chain(&e))),
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.bytes().await.unwrap_or_default();
            let acknowledged = status == 200 && NotifyReply::is_success_xml(&body);
            let text: String = String::from_utf8_lossy(&body).chars().take(200).collect();
            (acknowledged, format!("HTTP {status}: {text}"))
        }
    }
}

/// An error with its causes ("error sending request: … : Connection refused").
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Plain HTTP for a desk on loopback, HTTPS verified against the public roots otherwise, and
/// against the simulator's own CA, which stands in for a public CA (its tunnel's certificate).
fn http_client(
    timeout: Duration,
    ca: CertificateDer<'static>,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .http1_only()
        .tls_backend_preconfigured(tls_config(Some(ca)))
        .build()
}

/// rustls with the public roots and `extra` (ring, no process-wide provider needed).
pub(crate) fn tls_config(extra: Option<CertificateDer<'static>>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(ca) = extra {
        // Our own CA, made by pki.rs: it parses.
        let _ = roots.add(ca);
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_or_else(
            |_| unreachable!("ring supports the default protocol versions"),
            |builder| builder.with_root_certificates(roots).with_no_client_auth(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spans_a_day_and_four_minutes() {
        let total: Duration = RETRY_SCHEDULE.iter().sum();
        assert_eq!(total, Duration::from_secs(24 * 3600 + 4 * 60));
    }
}
