//! A faithful local simulator of WeChat Pay API v2: the app's out-of-the-box sandbox and the
//! other side of every integration test.
//!
//! It serves WeChat's paths over HTTPS (with its own CA, and the merchant client certificate
//! required for refunds), checks signatures and WeChat's refund rules with WeChat's error codes,
//! moves refunds from PROCESSING to their outcome, delivers payment and refund notifications on
//! WeChat's retry schedule, and takes orders, balances and injected faults from a JSON control
//! API on loopback. Start it in-process with [`start`], or as `merchant-desk-cli sim`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = wxpay_sim::start(wxpay_sim::SimConfig::new("/tmp/wxpay-sim")).await?;
//! let order = sim.create_order(wxpay_sim::NewOrder { total_fee: 1000, ..Default::default() })?;
//! sim.pay(&order.out_trade_no)?;
//! println!("{}", sim.info().base_url);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod clock;
mod control;
mod demo;
mod faults;
mod notify;
mod persist;
mod pki;
mod state;
mod tunnel;
mod wechat;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

pub use demo::{DemoTraffic, IntakeTarget, SIGNATURE_HEADER, TIMESTAMP_HEADER};
pub use faults::{Endpoint, Fault, FaultPlan};
pub use notify::{Delivery, NotifierSettings, RETRY_SCHEDULE};
pub use pki::{CredentialFiles, SimCredentials};
pub use state::{
    Balances, ControlError, Funds, LedgerEntry, LedgerKind, MAX_REFUNDS_PER_ORDER, NewOrder,
    NotificationKind, Order, OrderState, Refund, RefundRule, RefundStatus,
};
pub use tunnel::{Tunnel, open_tunnel};

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source} (is the port taken? choose another with --port)")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("certificates: {0}")]
    Pki(String),
    #[error("TLS setup: {0}")]
    Tls(String),
}

impl SimError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> SimError {
        SimError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// How to run the simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where the certificates, merchant credentials and `sim.json` live.
    pub data_dir: PathBuf,
    /// Loopback by default; the simulator is not meant to be reachable from elsewhere.
    pub host: IpAddr,
    /// WeChat's paths over HTTPS; 0 picks a free port.
    pub port: u16,
    /// The JSON control API over HTTP; 0 picks a free port.
    pub control_port: u16,
    /// How long a refund stays PROCESSING.
    pub refund_delay: Duration,
    pub notifier: NotifierSettings,
    /// Orders (and refund requests) made up for the sandbox; `None` for tests.
    pub demo: Option<DemoTraffic>,
    /// Keep the day (orders, refunds, ledger, notifications due) in `data_dir/state.json`, so a
    /// restart goes on with it (`persist.rs`). Off for tests and benchmarks.
    pub persist: bool,
}

impl SimConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> SimConfig {
        SimConfig {
            data_dir: data_dir.into(),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            control_port: 0,
            refund_delay: Duration::from_secs(5),
            notifier: NotifierSettings {
                time_scale: 1.0,
                duplicate_probability: 0.1,
                timeout: Duration::from_secs(5),
            },
            demo: None,
            persist: false,
        }
    }
}

/// Forgets the day saved in `data_dir` (the merchant and its certificates stay).
pub fn forget_day(data_dir: &std::path::Path) -> Result<(), SimError> {
    persist::forget(data_dir)
}

/// Where the simulator is and who the sandbox merchant is; written to `sim.json`.
#[derive(Debug, Clone, Serialize)]
pub struct SimInfo {
    pub base_url: String,
    pub control_url: String,
    pub appid: String,
    pub mch_id: String,
    /// The sandbox's API key. It only opens this simulator.
    pub api_key: String,
    pub files: CredentialFiles,
}

/// State shared by the listeners, the refund ticker and the notifier.
pub(crate) struct Shared {
    state: Mutex<state::SimState>,
    faults: Mutex<faults::Faults>,
    outgoing: mpsc::UnboundedSender<state::Outgoing>,
    deliveries: notify::DeliveryLog,
    due: notify::Due,
    persisted: Option<persist::Persisted>,
}

impl Shared {
    /// Hands new notifications to the notifier; they are due until acknowledged.
    fn send_outbox(&self, state: &mut state::SimState) {
        for notification in state.take_outbox() {
            self.queue(notification);
        }
    }

    fn queue(&self, notification: state::Outgoing) {
        if let Ok(mut due) = self.due.lock() {
            due.insert(notify::due_key(&notification), notification.clone());
        }
        let _ = self.outgoing.send(notification);
    }

    /// Writes the day when it is kept and changed.
    fn persist(&self) -> Result<(), SimError> {
        let Some(persisted) = &self.persisted else {
            return Ok(());
        };
        let snapshot = {
            let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let due = self
                .due
                .lock()
                .map(|due| due.values().cloned().collect())
                .unwrap_or_default();
            state.snapshot(due)
        };
        persisted.write(&snapshot)
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut state::SimState) -> T) -> T {
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        let result = f(&mut state);
        self.send_outbox(&mut state);
        result
    }

    fn create_order(&self, new: NewOrder) -> Result<Order, ControlError> {
        self.with_state(|s| {
            s.create_order(new, time::OffsetDateTime::now_utc())
                .cloned()
                .map_err(|e| ControlError::Invalid(format!("{}: {}", e.code, e.description)))
        })
    }

    fn pay(&self, out_trade_no: &str) -> Result<Order, ControlError> {
        self.with_state(|s| s.pay(out_trade_no, time::OffsetDateTime::now_utc()))
    }

    fn order(&self, out_trade_no: &str) -> Option<Order> {
        self.with_state(|s| s.order(out_trade_no).cloned())
    }

    fn refunds(&self) -> Vec<Refund> {
        self.with_state(|s| {
            s.advance(time::OffsetDateTime::now_utc());
            s.refunds()
        })
    }

    fn ledger(&self) -> Vec<LedgerEntry> {
        self.with_state(|s| s.ledger().to_vec())
    }

    fn balances(&self) -> Balances {
        self.with_state(|s| s.balances())
    }

    fn set_balances(&self, balances: Balances) {
        self.with_state(|s| s.set_balances(balances));
    }

    fn add_refund_rule(&self, rule: RefundRule) {
        self.with_state(|s| s.add_rule(rule));
    }

    fn inject(&self, plan: FaultPlan) {
        if let Ok(mut faults) = self.faults.lock() {
            faults.add(plan);
        }
    }

    fn clear_faults(&self) {
        if let Ok(mut faults) = self.faults.lock() {
            faults.clear();
        }
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries
            .lock()
            .map(|log| log.clone())
            .unwrap_or_default()
    }
}

/// A running simulator. Dropping it stops it.
pub struct SimHandle {
    info: SimInfo,
    credentials: SimCredentials,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("base_url", &self.info.base_url)
            .field("control_url", &self.info.control_url)
            .finish_non_exhaustive()
    }
}

impl SimHandle {
    pub fn info(&self) -> &SimInfo {
        &self.info
    }

    pub fn credentials(&self) -> &SimCredentials {
        &self.credentials
    }

    /// An unpaid order, as `/pay/unifiedorder` would make it.
    pub fn create_order(&self, new: NewOrder) -> Result<Order, ControlError> {
        self.shared.create_order(new)
    }

    /// The customer pays the order; a payment notification goes to its notify_url.
    pub fn pay(&self, out_trade_no: &str) -> Result<Order, ControlError> {
        self.shared.pay(out_trade_no)
    }

    pub fn order(&self, out_trade_no: &str) -> Option<Order> {
        self.shared.order(out_trade_no)
    }

    pub fn refunds(&self) -> Vec<Refund> {
        self.shared.refunds()
    }

    /// Every money movement so far.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        self.shared.ledger()
    }

    pub fn balances(&self) -> Balances {
        self.shared.balances()
    }

    pub fn set_balances(&self, balances: Balances) {
        self.shared.set_balances(balances);
    }

    pub fn inject(&self, plan: FaultPlan) {
        self.shared.inject(plan);
    }

    /// Forgets the faults not used yet.
    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }

    pub fn add_refund_rule(&self, rule: RefundRule) {
        self.shared.add_refund_rule(rule);
    }

    /// Every notification delivery attempt so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.deliveries()
    }

    /// Stops the listeners, the ticker and the notifier; a kept day is written first.
    pub fn shutdown(&self) {
        if let Err(error) = self.shared.persist() {
            eprintln!("wxpay-sim: the sandbox's day could not be saved: {error}");
        }
        let _ = self.shutdown.send(true);
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the simulator on the current tokio runtime.
pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
    let (credentials, tls) = pki::load_or_create(&config.data_dir)?;
    let wechat = bind(SocketAddr::new(config.host, config.port)).await?;
    let control = bind(SocketAddr::new(config.host, config.control_port)).await?;
    let wechat_addr = wechat
        .local_addr()
        .map_err(|e| SimError::io(&config.data_dir, e))?;
    let control_addr = control
        .local_addr()
        .map_err(|e| SimError::io(&config.data_dir, e))?;
    let host = match config.host {
        IpAddr::V4(ip) if ip.is_loopback() => "127.0.0.1".to_owned(),
        other => other.to_string(),
    };
    let info = SimInfo {
        base_url: format!("https://{host}:{}", wechat_addr.port()),
        control_url: format!("http://{host}:{}", control_addr.port()),
        appid: credentials.appid.to_string(),
        mch_id: credentials.mch_id.to_string(),
        api_key: credentials.api_key.expose().to_owned(),
        files: credentials.files.clone(),
    };
    let info_path = config.data_dir.join("sim.json");
    let info_json = serde_json::to_vec_pretty(&info).map_err(|e| SimError::Pki(e.to_string()))?;
    std::fs::write(&info_path, info_json).map_err(|e| SimError::io(&info_path, e))?;

    let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
    let mut day = state::SimState::new(
        credentials.appid.to_string(),
        credentials.mch_id.to_string(),
        credentials.api_key.clone(),
        config.refund_delay,
    );
    let still_due = if config.persist {
        persist::load(&config.data_dir)?
            .map(|snapshot| day.restore(snapshot))
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let shared = Arc::new(Shared {
        state: Mutex::new(day),
        faults: Mutex::new(faults::Faults::default()),
        outgoing,
        deliveries: Arc::default(),
        due: Arc::default(),
        persisted: config
            .persist
            .then(|| persist::Persisted::new(&config.data_dir)),
    });
    for notification in still_due {
        shared.queue(notification);
    }
    let (shutdown, shutdown_rx) = watch::channel(false);
    let ca = tls.ca.clone();

    tokio::spawn(wechat::serve(
        wechat,
        tls,
        shared.clone(),
        shutdown_rx.clone(),
    ));
    let router = control::router(Arc::new(control::ControlState {
        shared: shared.clone(),
        info: info.clone(),
    }));
    let mut stop = shutdown_rx.clone();
    tokio::spawn(async move {
        let _ = axum::serve(control, router)
            .with_graceful_shutdown(async move {
                let _ = stop.changed().await;
            })
            .await;
    });
    tokio::spawn(notify::run(
        outgoing_rx,
        config.notifier,
        ca,
        shared.deliveries.clone(),
        shared.due.clone(),
        shutdown_rx.clone(),
    ));
    if config.persist {
        tokio::spawn(persist::run(shared.clone(), shutdown_rx.clone()));
    }
    if let Some(demo) = config.demo {
        tokio::spawn(demo::run(shared.clone(), demo, shutdown_rx.clone()));
    }
    tokio::spawn(tick(shared.clone(), config.refund_delay, shutdown_rx));

    Ok(SimHandle {
        info,
        credentials,
        shared,
        shutdown,
    })
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, SimError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| SimError::Bind { addr, source })
}

/// Moves refunds to their outcome on time, so their notifications go out without a query.
async fn tick(shared: Arc<Shared>, refund_delay: Duration, mut shutdown: watch::Receiver<bool>) {
    let period = (refund_delay / 10).clamp(Duration::from_millis(10), Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => return,
        }
        shared.with_state(|s| s.advance(time::OffsetDateTime::now_utc()));
    }
}
