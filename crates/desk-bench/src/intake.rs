//! The intake under load: a flash sale of payment notifications posted over HTTP on loopback to a
//! real desk (the sandbox merchant, a real SQLite file, WAL with full sync). Each answer comes
//! after the payment is verified and committed; each committed payment becomes an alert through
//! the same policy the app uses, and its time is matched with the notification's.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use desk_core::{AlertKind, StoredAlert};
use desk_runtime::{
    Alert, AlertSettings, AlertSink, Alerter, DataDir, Language, RunningDesk, StartOptions,
};
use wxpay::{ApiKey, Fields, SignType};

use crate::error::BenchError;
use crate::load::{Sent, post_all};
use crate::stats::quantile;

/// One load level's results.
#[derive(Debug, Clone)]
pub struct IntakeRun {
    pub connections: usize,
    pub notifications: usize,
    pub elapsed: Duration,
    /// Sorted: from sending a notification to its answer.
    pub latencies: Vec<Duration>,
    /// Sorted: from sending a notification to its desktop alert.
    pub alert_latencies: Vec<Duration>,
    pub refused: usize,
    /// Orders the database holds after the run, and alerts raised (each once).
    pub stored: usize,
    pub alerts: usize,
}

impl IntakeRun {
    pub fn per_second(&self) -> f64 {
        self.notifications as f64 / self.elapsed.as_secs_f64()
    }
    pub fn p(&self, q: f64) -> Duration {
        quantile(&self.latencies, q)
    }
    pub fn alert_p(&self, q: f64) -> Duration {
        quantile(&self.alert_latencies, q)
    }
}

/// A payment notification as WeChat sends it for a mini-program order (MD5, every value in
/// CDATA), about 750 bytes.
pub fn notification(
    appid: &str,
    mch_id: &str,
    key: &ApiKey,
    out_trade_no: &str,
    n: usize,
) -> Result<String, BenchError> {
    let total = (100 + (n * 7919) % 50_000).to_string();
    let fields = Fields::from_pairs([
        ("appid", appid.to_owned()),
        ("bank_type", "OTHERS".to_owned()),
        ("cash_fee", total.clone()),
        ("fee_type", "CNY".to_owned()),
        ("is_subscribe", "N".to_owned()),
        ("mch_id", mch_id.to_owned()),
        ("nonce_str", format!("n{n:031}")),
        ("openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".to_owned()),
        ("out_trade_no", out_trade_no.to_owned()),
        ("result_code", "SUCCESS".to_owned()),
        ("return_code", "SUCCESS".to_owned()),
        ("time_end", "20261201120000".to_owned()),
        ("total_fee", total),
        ("trade_type", "JSAPI".to_owned()),
        ("transaction_id", format!("4200{n:028}")),
    ])
    .map_err(|e| BenchError::Other(format!("a notification's fields: {e}")))?;
    wxpay::sign::sign_and_encode(fields, key, SignType::Md5)
        .map_err(|e| BenchError::Other(format!("signing a notification: {e}")))
}

/// Starts a sandbox desk in `dir` and runs each level of `connections` with `per_level`
/// notifications, fresh order numbers each time (one database for the whole run).
pub async fn run(
    dir: &std::path::Path,
    connections: &[usize],
    per_level: usize,
) -> Result<Vec<IntakeRun>, BenchError> {
    let mut options = StartOptions::new(DataDir::resolve(Some(dir.to_owned()))?);
    options.force_sandbox = true;
    options.sandbox_keeps_day = false;
    options.listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    let desk = RunningDesk::start(options).await?;
    let addr: SocketAddr = desk
        .intake_url()
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| BenchError::Other(format!("the intake's address: {e}")))?;
    let credentials = desk
        .sandbox()
        .ok_or_else(|| BenchError::Other("the desk did not start in the sandbox".into()))?
        .credentials()
        .clone();
    let merchant = (
        credentials.appid.to_string(),
        credentials.mch_id.to_string(),
        credentials.api_key.clone(),
    );
    let runs = levels(
        &desk,
        addr,
        "/wxpay/notify",
        &merchant,
        connections,
        per_level,
    )
    .await;
    desk.shutdown().await;
    runs
}

/// Posts each level's notifications to `addr` + `path` (the desk's intake, or the relay's door
/// for the desk's shop) and times each from sending to its answer and to its alert on `desk`.
pub async fn levels(
    desk: &RunningDesk,
    addr: SocketAddr,
    path: &str,
    (appid, mch_id, key): &(String, String, ApiKey),
    connections: &[usize],
    per_level: usize,
) -> Result<Vec<IntakeRun>, BenchError> {
    // The app's alert path: the outbox row committed with the order → the delivery loop → an
    // alert handed to the sink (a flash sale's summary covers many orders), timed on arrival.
    let alerted: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    desk.deliver_alerts(
        Arc::new(Mutex::new(Alerter::new(
            AlertSettings::default(),
            Language::ZhCn,
        ))),
        TimedSink(alerted.clone()),
    );

    let mut runs = Vec::new();
    for (level, &conns) in connections.iter().enumerate() {
        let bodies = (0..per_level)
            .map(|i| {
                let no = format!("LOAD{level:02}{i:08}");
                let body = notification(appid, mch_id, key, &no, level * 100_000_000 + i)?;
                Ok((no, body))
            })
            .collect::<Result<Vec<_>, BenchError>>()?;
        let started = Instant::now();
        let sent: Vec<Sent> = post_all(addr, path, bodies, conns).await?;
        let elapsed = started.elapsed();
        // Let the last alerts arrive (each accepted notification raises one), for up to 30 s.
        let accepted = sent.iter().filter(|s| s.accepted).count();
        let waiting_since = Instant::now();
        while alerted.lock().unwrap_or_else(|p| p.into_inner()).len() < accepted
            && waiting_since.elapsed() < Duration::from_secs(30)
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let alerts = std::mem::take(&mut *alerted.lock().unwrap_or_else(|p| p.into_inner()));
        let mut latencies: Vec<Duration> = sent.iter().map(|s| s.latency).collect();
        latencies.sort_unstable();
        let mut alert_latencies: Vec<Duration> = sent
            .iter()
            .filter_map(|s| alerts.get(&s.key).map(|at| at.duration_since(s.at)))
            .collect();
        alert_latencies.sort_unstable();
        let prefix = format!("LOAD{level:02}");
        let stored = desk.store().orders(Some(&prefix), per_level + 1)?.len();
        runs.push(IntakeRun {
            connections: conns,
            notifications: per_level,
            elapsed,
            latencies,
            alert_latencies,
            refused: sent.iter().filter(|s| !s.accepted).count(),
            stored,
            alerts: alerts.len(),
        });
    }
    Ok(runs)
}

/// Notes when each paid order was first alerted.
struct TimedSink(Arc<Mutex<HashMap<String, Instant>>>);

impl AlertSink for TimedSink {
    fn deliver(&mut self, _alert: &Alert, facts: &[StoredAlert]) {
        let now = Instant::now();
        let mut alerted = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for fact in facts.iter().filter(|f| f.kind == AlertKind::OrderPaid) {
            alerted.entry(fact.out_trade_no.clone()).or_insert(now);
        }
    }

    fn trouble(&mut self, error: &desk_core::CoreError) {
        eprintln!("the alert outbox failed: {error}");
    }
}
