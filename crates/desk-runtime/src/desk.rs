//! A running desk: the data directory locked, the database open, the intake listening and the
//! refund engine working, against the configured merchant or the in-process sandbox.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use desk_core::intake::{IntakeState, router};
use desk_core::{Engine, EngineSettings, EventReceiver, ManualRefund, Store, unix_now};
use guarded_server::{GuardedServer, Limits};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use wxpay_sim::{DemoTraffic, IntakeTarget, SimConfig, SimHandle};

use crate::StartWarning;
use crate::alerts::{AlertSink, Alerter};
use crate::books::{Books, adopt_legacy_database, adopt_staff_mirror, sandbox_intake_secret};
use crate::config::{Config, Mode};
use crate::error::RuntimeError;
use crate::files::DataDir;
use crate::lock::DeskLock;
use crate::merchant::{Client, SandboxCredentials, merchant_client};
use crate::relay::{Link, LinkStatus, staff_client};
use crate::secrets::Secrets;
use relay_protocol::Role;

/// How to start.
#[derive(Debug, Clone)]
pub struct StartOptions {
    pub data_dir: DataDir,
    /// Run against the in-process simulator whatever the configuration says.
    pub force_sandbox: bool,
    /// Listen here instead of the configured address (port 0: any free port).
    pub listen: Option<SocketAddr>,
    /// Sandbox only: make up paid orders and refund requests.
    pub demo: Option<Duration>,
    /// Sandbox only: how long a simulated refund stays PROCESSING.
    pub sandbox_refund_delay: Duration,
    /// Sandbox only: the simulator keeps its day on disk, so orders paid before a restart
    /// refund after it (off for benchmarks, which measure the desk).
    pub sandbox_keeps_day: bool,
    /// How often the engine looks for due work when nothing wakes it.
    pub poll: Duration,
}

impl StartOptions {
    pub fn new(data_dir: DataDir) -> StartOptions {
        StartOptions {
            data_dir,
            force_sandbox: false,
            listen: None,
            demo: None,
            sandbox_refund_delay: Duration::from_secs(3),
            sandbox_keeps_day: true,
            poll: Duration::from_secs(1),
        }
    }
}

/// The desk while it runs. [`RunningDesk::shutdown`] stops it cleanly; dropping it stops the
/// tasks too.
pub struct RunningDesk {
    store: Arc<Store>,
    intake: Arc<IntakeState<wxpay_client::HttpsTransport>>,
    client: Client,
    config: Config,
    books: Books,
    intake_secret: String,
    intake_url: String,
    mode: Mode,
    sandbox: Option<SimHandle>,
    notices: broadcast::Sender<String>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// Stopped after the intake and the engine, so what they stored last is delivered too.
    alerts_stop: watch::Sender<bool>,
    alert_task: Mutex<Option<JoinHandle<()>>>,
    /// When this desk started (Unix seconds): alerts from before it were missed while closed.
    started_at: i64,
    warnings: Vec<StartWarning>,
    /// The intake's doors: what they had to refuse and evict.
    doors: Arc<GuardedServer>,
    /// The link to the shop's relay, when the desk reads there instead of listening.
    relay_status: Option<watch::Receiver<LinkStatus>>,
    _lock: DeskLock,
}

impl std::fmt::Debug for RunningDesk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningDesk")
            .field("intake_url", &self.intake_url)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl RunningDesk {
    pub async fn start(options: StartOptions) -> Result<RunningDesk, RuntimeError> {
        let started_at = unix_now();
        let dir = &options.data_dir;
        let open_files = guarded_server::process::prepare();
        dir.create()?;
        let lock = DeskLock::acquire(&dir.lock(), dir.root())?;
        // Before anything is read: a data directory someone loosened is narrowed and said so.
        let mut warnings = crate::files::make_private(dir.root());
        let config = Config::load_or_create(&dir.config())?;
        let mode = if options.force_sandbox {
            Mode::Sandbox
        } else {
            config.mode
        };
        adopt_legacy_database(dir, &config)?;
        adopt_staff_mirror(dir, &config)?;
        let books = Books::of(&config, mode, dir)?;
        books.create(dir)?;
        let store = Arc::new(Store::open(&books.database(dir))?);
        let intake_secret = match mode {
            Mode::Sandbox => sandbox_intake_secret(dir)?,
            Mode::Production => config.intake.shared_secret.clone(),
        };
        // With a relay (a real merchant only) the desk listens on no port: it connects out.
        let relay = match (mode, &config.relay) {
            (Mode::Production, Some(relay)) => Some(relay.clone()),
            (Mode::Sandbox, Some(_)) => {
                warnings.push(StartWarning::SandboxIgnoresRelay);
                None
            }
            (_, None) => None,
        };
        let staff = relay
            .as_ref()
            .filter(|relay| relay.role == Role::Staff)
            .map(|relay| relay.staff.clone().ok_or_else(|| {
                RuntimeError::InvalidSetting(
                    "this staff desk has no merchant: pair it again with a code from the owner's desk".into(),
                )
            }))
            .transpose()?;
        // Defence in depth: books a staff desk mirrored into never send a refund.
        if staff.is_none() && store.is_mirror()? {
            return Err(RuntimeError::MirrorBooks(books.folder(dir)));
        }
        let (listener, intake_url) = match &relay {
            Some(relay) => (None, relay.shop_url()),
            None => {
                let addr = options.listen.unwrap_or(config.intake.listen);
                let listener = guarded_server::bind(addr)
                    .map_err(|source| RuntimeError::Bind { addr, source })?;
                let local = listener
                    .local_addr()
                    .map_err(|source| RuntimeError::Bind { addr, source })?;
                if mode == Mode::Production && !local.ip().is_loopback() {
                    warnings.push(StartWarning::IntakeReachable {
                        listen: local.to_string(),
                    });
                }
                (Some(listener), format!("http://{local}"))
            }
        };

        let (client, sandbox, settings) = match mode {
            Mode::Sandbox => {
                let (sim, credentials) =
                    start_sandbox(&options, &intake_secret, &intake_url).await?;
                let settings = EngineSettings {
                    first_check_after: options.sandbox_refund_delay + Duration::from_secs(1),
                    max_check_interval: Duration::from_secs(30),
                    retry_base: Duration::from_secs(1),
                    retry_max: Duration::from_secs(30),
                    not_enough_wait: Duration::from_secs(30),
                    recharge_fallback: config.refunds.recharge_fallback,
                    notify_url: Some(format!("{intake_url}/wxpay/refund-notify")),
                    ..EngineSettings::default()
                };
                (credentials.client(SystemTime::now())?, Some(sim), settings)
            }
            Mode::Production if staff.is_some() => {
                // A staff desk: verifies notifications with the merchant's key; no certificate,
                // no refunds.
                let staff = staff.as_ref().unwrap_or_else(|| unreachable!("matched"));
                (
                    staff_client(staff, &dir.secrets_fallback(), SystemTime::now())?,
                    None,
                    EngineSettings::default(),
                )
            }
            Mode::Production => {
                let merchant = config
                    .merchant
                    .as_ref()
                    .ok_or_else(|| RuntimeError::NoMerchant(dir.config()))?;
                let secrets =
                    Secrets::open(merchant.secrets, &dir.secrets_fallback(), &merchant.mch_id)?;
                if secrets.backend() == crate::SecretBackend::File {
                    warnings.push(StartWarning::KeyInFile {
                        path: dir.secrets_fallback().display().to_string(),
                    });
                }
                // WeChat posts refund results where the desk can read them: the relay, else
                // the intake's public address.
                let public = match &relay {
                    Some(_) => Some(intake_url.clone()),
                    None => config.intake.public_url.clone(),
                };
                let settings = EngineSettings {
                    recharge_fallback: config.refunds.recharge_fallback,
                    notify_url: public
                        .map(|base| format!("{}/wxpay/refund-notify", base.trim_end_matches('/'))),
                    ..EngineSettings::default()
                };
                (
                    merchant_client(merchant, &secrets, SystemTime::now())?,
                    None,
                    settings,
                )
            }
        };
        // One pace for every call to WeChat: the engine's refunds and queries and the intake's
        // order checks.
        let client = client.with_rate_limit(config.refunds.max_requests_per_second);

        let (stop, stopped) = watch::channel(false);
        let (notices, _) = broadcast::channel(64);
        let retired = match mode {
            Mode::Sandbox => Vec::new(),
            Mode::Production => config.intake.retired_secrets.clone(),
        };
        let intake = Arc::new(
            IntakeState::new(store.clone(), client.clone(), intake_secret.clone())
                .with_retired_secrets(retired),
        );
        intake.start_watch();
        let mut stop_intake = stopped.clone();
        // Doors that strangers cannot hold shut (caps sized from the open-file limit).
        let doors = Arc::new(GuardedServer::new(Limits::for_open_files(open_files.limit)));
        let (relay_status, relay_status_rx) = watch::channel(LinkStatus::default());
        let intake_task = match (listener, &relay) {
            (Some(listener), _) => {
                let intake_notices = notices.clone();
                let intake_router = router(intake.clone());
                let intake_doors = doors.clone();
                tokio::spawn(async move {
                    let stop = async move {
                        let _ = stop_intake.wait_for(|stop| *stop).await;
                    };
                    if let Err(error) = intake_doors.serve(listener, intake_router, stop).await {
                        let _ = intake_notices.send(format!("the intake stopped: {error}"));
                    }
                })
            }
            (None, Some(relay)) => {
                let link = Link {
                    client: relay.client()?,
                    source: relay.source(),
                    role: relay.role,
                    shop_key: relay.shop_key.clone(),
                    intake: intake.clone(),
                    store: store.clone(),
                    notices: notices.clone(),
                    status: relay_status,
                };
                tokio::spawn(link.run(stop_intake))
            }
            (None, None) => unreachable!("the desk listens unless it has a relay"),
        };
        let mut tasks = vec![intake_task];
        match relay.as_ref().map(|relay| relay.role) {
            // A staff desk sends no refunds: the owner's desk does, and says so through the relay.
            Some(Role::Staff) => {}
            owner => {
                if owner == Some(Role::Owner) {
                    let relay = relay.as_ref().unwrap_or_else(|| unreachable!("matched"));
                    tasks.push(tokio::spawn(crate::relay::publish(
                        relay.client()?,
                        relay.shop_key.clone(),
                        (
                            client.merchant().appid.clone(),
                            client.merchant().mch_id.clone(),
                        ),
                        store.clone(),
                        stopped.clone(),
                    )));
                }
                let engine = Engine::new(store.clone(), client.clone(), settings);
                tasks.push(tokio::spawn(run_engine(
                    engine,
                    store.subscribe(),
                    options.poll,
                    stopped,
                    notices.clone(),
                )));
            }
        }
        Ok(RunningDesk {
            intake,
            store,
            client,
            config,
            books,
            intake_secret,
            intake_url,
            mode,
            sandbox,
            notices,
            stop,
            tasks,
            alerts_stop: watch::channel(false).0,
            alert_task: Mutex::new(None),
            started_at,
            warnings,
            doors,
            relay_status: relay.map(|_| relay_status_rx),
            _lock: lock,
        })
    }

    /// How the link to the relay stands (`None`: the desk listens itself).
    pub fn relay_status(&self) -> Option<LinkStatus> {
        self.relay_status
            .as_ref()
            .map(|status| status.borrow().clone())
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The configuration the desk started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A refund the owner starts by hand: the order is confirmed with WeChat first.
    pub async fn create_manual_request(
        &self,
        manual: ManualRefund,
        now: i64,
    ) -> Result<i64, desk_core::CoreError> {
        desk_core::create_manual_request(&self.store, &self.client, manual, now).await
    }

    /// The sandbox's "first refund": a customer pays ¥0.01 in the simulator (its notification
    /// comes in like a real one), and a refund request for it is queued, confirmed with the
    /// simulated WeChat. Approving it then shows every step the real first refund takes.
    pub async fn sandbox_trial(&self, now: i64) -> Result<i64, RuntimeError> {
        let sim = self.sandbox.as_ref().ok_or(RuntimeError::NotInSandbox)?;
        let trial = |e: wxpay_sim::ControlError| RuntimeError::InvalidSetting(e.to_string());
        let order = sim
            .create_order(wxpay_sim::NewOrder {
                total_fee: 1,
                body: Some("首笔退款演练 first refund trial".into()),
                notify_url: Some(format!("{}/wxpay/notify", self.intake_url)),
                ..Default::default()
            })
            .map_err(trial)?;
        sim.pay(&order.out_trade_no).map_err(trial)?;
        let out_trade_no = wxpay::OutTradeNo::new(order.out_trade_no)
            .map_err(|e| RuntimeError::InvalidSetting(e.to_string()))?;
        let manual = ManualRefund {
            order: wxpay::OrderRef::OutTradeNo(out_trade_no),
            amount: wxpay::Fen::new(1),
            reason: "首笔退款演练 first refund trial".into(),
            customer: None,
        };
        Ok(self.create_manual_request(manual, now).await?)
    }

    /// Events of everything the desk commits.
    pub fn subscribe(&self) -> EventReceiver {
        self.store.subscribe()
    }

    /// Problems while running (WeChat unreachable for the engine's storage, the intake
    /// stopping), worded for the owner.
    pub fn notices(&self) -> broadcast::Receiver<String> {
        self.notices.subscribe()
    }

    /// Things the owner should know from the start (secrets in a file, an open intake).
    /// What the intake's doors did so far (connections evicted, timed out, refused).
    pub fn intake_doors(&self) -> guarded_server::Stats {
        self.doors.stats()
    }

    /// The intake's connection caps.
    pub fn intake_limits(&self) -> Limits {
        self.doors.limits()
    }

    pub fn warnings(&self) -> &[StartWarning] {
        &self.warnings
    }

    pub fn intake_url(&self) -> &str {
        &self.intake_url
    }

    /// The shared secret the running intake checks backend requests with (the sandbox has its
    /// own).
    pub fn intake_secret(&self) -> &str {
        &self.intake_secret
    }

    /// Whose refunds this desk works on.
    pub fn books(&self) -> &Books {
        &self.books
    }

    /// Refused while this desk's refunds are on their way (approved, being sent, held or being
    /// followed): another mode's engine would leave them waiting.
    pub fn ensure_can_switch(&self) -> Result<(), RuntimeError> {
        let in_flight = self.store.refunds_in_flight()?;
        if in_flight > 0 {
            return Err(RuntimeError::RefundsInFlight(in_flight));
        }
        Ok(())
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The simulator, in sandbox mode.
    pub fn sandbox(&self) -> Option<&SimHandle> {
        self.sandbox.as_ref()
    }

    /// Delivers this desk's alert outbox to `sink` while it runs (see `alerts/outbox.rs`).
    /// A second call replaces the first sink.
    pub fn deliver_alerts(&self, alerter: Arc<Mutex<Alerter>>, sink: impl AlertSink) {
        let task = tokio::spawn(crate::alerts::deliver_alerts(
            self.started_at,
            self.store.clone(),
            alerter,
            self.store.subscribe(),
            sink,
            self.alerts_stop.subscribe(),
        ));
        let old = self
            .alert_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(task);
        if let Some(old) = old {
            old.abort();
        }
    }

    /// Stops taking requests, lets the engine finish its pass, delivers the last alerts, stops
    /// the simulator.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        // The refusals counted since the last few seconds' write.
        self.intake.flush_refusals().await;
        let _ = self.alerts_stop.send(true);
        let task = self
            .alert_task
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
        if let Some(sim) = self.sandbox.take() {
            sim.shutdown();
        }
    }
}

impl Drop for RunningDesk {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        let _ = self.alerts_stop.send(true);
    }
}

async fn start_sandbox(
    options: &StartOptions,
    intake_secret: &str,
    intake_url: &str,
) -> Result<(SimHandle, SandboxCredentials), RuntimeError> {
    let dir = &options.data_dir;
    let mut sim_config = SimConfig::new(dir.sandbox());
    sim_config.refund_delay = options.sandbox_refund_delay;
    sim_config.persist = options.sandbox_keeps_day;
    sim_config.demo = options.demo.map(|every| DemoTraffic {
        order_every: every,
        notify_url: Some(format!("{intake_url}/wxpay/notify")),
        refund_requests: Some(IntakeTarget {
            url: format!("{intake_url}/api/v1/refund-requests"),
            secret: intake_secret.to_owned(),
        }),
        refund_request_probability: 0.2,
    });
    let sim = wxpay_sim::start(sim_config).await?;
    let info = sim.info();
    let credentials = SandboxCredentials {
        base_url: info.base_url.clone(),
        control_url: info.control_url.clone(),
        appid: info.appid.clone(),
        mch_id: info.mch_id.clone(),
        api_key: info.api_key.clone(),
        files: info.files.clone(),
        intake_url: intake_url.to_owned(),
        intake_secret: intake_secret.to_owned(),
    };
    credentials.save(&dir.sandbox_credentials())?;
    Ok((sim, credentials))
}

/// Runs the engine until stopped: a pass whenever something was committed (an approval wakes
/// it at once) or `poll` passed.
async fn run_engine(
    engine: Engine<wxpay_client::HttpsTransport>,
    mut events: EventReceiver,
    poll: Duration,
    mut stopped: watch::Receiver<bool>,
    notices: broadcast::Sender<String>,
) {
    let mut last_problem = None;
    loop {
        let problem = engine
            .run_once(unix_now())
            .await
            .err()
            .map(|e| e.to_string());
        if problem.is_some() && problem != last_problem {
            let _ = notices.send(format!(
                "the refund engine could not finish a pass: {}",
                problem.as_deref().unwrap_or_default()
            ));
        }
        last_problem = problem;
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = events.recv() => {}
            _ = stopped.wait_for(|stop| *stop) => return,
        }
    }
}
