//! Proof by exhaustion: the real engine and store against the simulator through every sequence
//! of up to three faults on the refund and refund-query endpoints, with a crash and restart
//! allowed between any two steps, and a second approval of the same order at the end.
//!
//! The alphabet (39 letters): on `/secapi/pay/refund`, each of SYSTEMERROR, BIZERR_NEED_RETRY,
//! FREQUENCY_LIMITED, NOTENOUGH, ORDERNOTEXIST, ERROR, SIGNERROR, HTTP 500, HTTP 403, a dropped
//! connection, garbage, an answer later than the client's timeout and the desk's process dying
//! during the call, each before and after the refund is recorded; on `/pay/refundquery` (which
//! records nothing) the same once each. A letter applies to the next call of its endpoint, in
//! order. The simulator spoils the answers; the late answer and the death are the transport's
//! (below what a user sees), so they happen at the same step every run.
//!
//! Each sequence runs twice: with restarts only where a letter kills the process, and with the
//! process restarted after every pass of the engine (the engine keeps nothing but its pace in
//! memory, so a restart between every two steps covers a restart between any two). A refund
//! held for the desk's setup is resumed at once (the owner fixed it and the doctor passed).
//!
//! After every sequence: every refund the desk approved ended where WeChat's ledger says
//! (succeeded if and only if paid, failed if and only if not), nothing was paid twice or
//! without an approval, and the second request for the same order is approved only if the
//! first refund moved no money.
//!
//! `cargo test` runs every sequence of up to two letters and, of three, 39 two-letter prefixes
//! with every third letter (see `budget`); `MERCHANT_DESK_EXHAUSTIVE=full` runs them all
//! (RELIABILITY.md has the full run's count and time).

#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod support;

use desk_core::*;
use wxpay::*;
use wxpay_client::{HttpReply, HttpsTransport, Transport, WxPayClient};
use wxpay_sim::{Endpoint, Fault, FaultPlan, LedgerKind, NewOrder, SimConfig, SimHandle};

const TOTAL: i64 = 1000;
const FIRST: i64 = 600;
/// The client's own timeout: well above any answer of the simulator on a busy machine (a late
/// answer is a letter of its own, not a race).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a worker reports how far it is.
const PROGRESS_EVERY: usize = 5000;
/// Runs in one simulator and database before a worker starts a fresh pair.
const FRESH_WORLD_EVERY: usize = 1000;
/// Engine passes allowed for a refund to reach its end once the faults are spent.
const MAX_PASSES: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Letter {
    /// The simulator spoils the next call of this endpoint.
    Fault(Endpoint, Fault),
    /// The desk's process dies during the next call of this endpoint, after the request reached
    /// WeChat (`true`) or before.
    Crash(Endpoint, bool),
    /// The next call of this endpoint times out: its answer comes after the client gave up, the
    /// request having reached WeChat (`true`) or not.
    Late(Endpoint, bool),
}

fn alphabet() -> Vec<Letter> {
    let mut letters = Vec::new();
    for endpoint in [Endpoint::Refund, Endpoint::RefundQuery] {
        // A query records nothing: before and after are the same there.
        let afters: &[bool] = if endpoint == Endpoint::Refund {
            &[false, true]
        } else {
            &[false]
        };
        for &after_record in afters {
            for code in [
                "SYSTEMERROR",
                "BIZERR_NEED_RETRY",
                "FREQUENCY_LIMITED",
                "NOTENOUGH",
                "ORDERNOTEXIST",
                "ERROR",
                "SIGNERROR",
            ] {
                letters.push(Letter::Fault(
                    endpoint,
                    Fault::Error {
                        err_code: code.into(),
                        after_record,
                    },
                ));
            }
            for status in [500, 403] {
                letters.push(Letter::Fault(
                    endpoint,
                    Fault::HttpStatus {
                        status,
                        after_record,
                    },
                ));
            }
            letters.push(Letter::Fault(endpoint, Fault::Drop { after_record }));
            letters.push(Letter::Fault(endpoint, Fault::Garbage { after_record }));
            letters.push(Letter::Crash(endpoint, after_record));
            letters.push(Letter::Late(endpoint, after_record));
        }
    }
    letters
}

fn endpoint_of(path: &str) -> Option<Endpoint> {
    Endpoint::from_path(path)
}

/// Below the line a user sees: the real HTTPS transport, with the test's letters applied to
/// the calls in order. A crash letter never answers, and the test drops the engine's pass.
#[derive(Clone)]
struct ScriptedTransport {
    inner: HttpsTransport,
    sim: Arc<SimHandle>,
    script: Arc<Mutex<VecDeque<Letter>>>,
    crashed: Arc<tokio::sync::Notify>,
}

impl ScriptedTransport {
    /// The next letter for a call of `endpoint`, if the script's next letter for it is due.
    fn take(&self, endpoint: Endpoint) -> Option<Letter> {
        let mut script = self.script.lock().unwrap();
        let index = script.iter().position(|letter| match letter {
            Letter::Fault(e, _) | Letter::Crash(e, _) | Letter::Late(e, _) => *e == endpoint,
        })?;
        script.remove(index)
    }
}

impl Transport for ScriptedTransport {
    async fn post(
        &self,
        path: &'static str,
        body: String,
        needs_client_cert: bool,
    ) -> Result<HttpReply, TransportError> {
        let letter = endpoint_of(path).and_then(|e| self.take(e));
        match letter {
            Some(Letter::Fault(endpoint, fault)) => self.sim.inject(FaultPlan {
                endpoint,
                fault,
                count: 1,
            }),
            Some(Letter::Crash(_, reached)) => {
                if reached {
                    let _ = self.inner.post(path, body, needs_client_cert).await;
                }
                self.crashed.notify_one();
                return std::future::pending().await;
            }
            // What the HTTPS client reports when its timeout passes first: deterministic here,
            // where a real delay would race the test's own checks.
            Some(Letter::Late(_, reached)) => {
                if reached {
                    let _ = self.inner.post(path, body, needs_client_cert).await;
                }
                return Err(TransportError::new(
                    TransportErrorKind::Timeout,
                    "operation timed out (scripted)",
                ));
            }
            None => {}
        }
        self.inner.post(path, body, needs_client_cert).await
    }
}

/// One worker's world: a simulator, the desk's database file, and the desk's process (store
/// and engine), which can die and start again.
struct World {
    sim: Arc<SimHandle>,
    transport: ScriptedTransport,
    client_merchant: Merchant,
    path: PathBuf,
    store: Arc<Store>,
    engine: Engine<ScriptedTransport>,
    clock: i64,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn settings() -> EngineSettings {
    EngineSettings::default()
}

/// The model's clock jumps an hour a pass: every wait has passed at the next one, and the
/// client need not keep WeChat's pace.
const UNPACED: u32 = 100_000;

impl World {
    async fn new() -> World {
        let sim_dir = tempfile::tempdir().unwrap();
        let mut config = SimConfig::new(sim_dir.path());
        config.refund_delay = Duration::ZERO;
        config.notifier.duplicate_probability = 0.0;
        let sim = Arc::new(wxpay_sim::start(config).await.unwrap());
        let base = support::client_for(&sim, SignType::HmacSha256);
        let inner = support::transport_for(&sim, CLIENT_TIMEOUT);
        let transport = ScriptedTransport {
            inner,
            sim: sim.clone(),
            script: Arc::default(),
            crashed: Arc::default(),
        };
        // The database in memory-backed storage where there is one: a crash here is a new
        // connection to the same file, so what is tested does not need the disk's syncs, which
        // would take most of the run's time.
        let desk_dir = match tempfile::tempdir_in("/dev/shm") {
            Ok(dir) => dir,
            Err(_) => tempfile::tempdir().unwrap(),
        };
        let path = desk_dir.path().join("desk.sqlite3");
        let store = Arc::new(Store::open(&path).unwrap());
        let merchant = base.merchant().clone();
        let engine = Engine::new(
            store.clone(),
            WxPayClient::new(merchant.clone(), transport.clone()).with_rate_limit(UNPACED),
            settings(),
        );
        World {
            sim,
            transport,
            client_merchant: merchant,
            path,
            store,
            engine,
            clock: now(),
            _dirs: (sim_dir, desk_dir),
        }
    }

    /// The process dies and starts again: a new connection to the same file, a new engine.
    fn restart(&mut self) {
        self.store = Arc::new(Store::open(&self.path).unwrap());
        self.engine = Engine::new(
            self.store.clone(),
            WxPayClient::new(self.client_merchant.clone(), self.transport.clone())
                .with_rate_limit(UNPACED),
            settings(),
        );
    }

    /// A paid order of `TOTAL`, known to the desk.
    fn paid_order(&self) -> Payment {
        let order = self
            .sim
            .create_order(NewOrder {
                total_fee: TOTAL,
                ..Default::default()
            })
            .unwrap();
        let paid = self.sim.pay(&order.out_trade_no).unwrap();
        let payment = Payment {
            out_trade_no: OutTradeNo::new(paid.out_trade_no).unwrap(),
            transaction_id: TransactionId::new(paid.transaction_id.unwrap()).unwrap(),
            total_fee: Fen::new(TOTAL),
            paid_at: now(),
            openid: None,
            trade_type: None,
            attach: None,
            source: PaymentSource::Notification,
        };
        self.store.record_payment(&payment, now()).unwrap();
        payment
    }

    fn request(&self, order: &Payment, fee: i64) -> Result<i64, CoreError> {
        let request = NewRequest {
            request_id: None,
            out_trade_no: order.out_trade_no.clone(),
            refund_fee: Fen::new(fee),
            reason: "model".into(),
            customer: None,
        };
        self.store.add_request(&request, now()).map(|(id, _)| id)
    }

    fn approve(&self, request: i64) -> Result<ApprovedRefund, CoreError> {
        self.store.approve(request, None, &support::owner(), now())
    }

    fn state(&self, refund: &ApprovedRefund) -> RefundState {
        self.store
            .refund_by_number(refund.out_refund_no.as_str())
            .unwrap()
            .unwrap()
            .state
    }

    /// Runs engine passes until `refund` is final: a crash letter ends a pass and restarts the
    /// process; a held refund is resumed (the owner fixed the setup).
    async fn drive(
        &mut self,
        refund: &ApprovedRefund,
        restart_each_pass: bool,
    ) -> Result<RefundState, Broken> {
        for _ in 0..MAX_PASSES {
            let state = self.state(refund);
            match state {
                RefundState::Succeeded
                | RefundState::Failed
                | RefundState::Closed
                | RefundState::NeedsManual => return Ok(state),
                RefundState::Held => {
                    self.store.resume_held(self.clock).unwrap();
                }
                RefundState::Processing => {
                    // The simulator ends a refund within its 10 ms tick.
                    tokio::time::sleep(Duration::from_millis(12)).await;
                }
                RefundState::Approved | RefundState::Submitting => {}
            }
            self.clock += 3600;
            let crashed = self.transport.crashed.clone();
            let crash = tokio::select! {
                result = self.engine.run_once(self.clock) => {
                    result.map_err(Broken::Pass)?;
                    false
                }
                () = crashed.notified() => true,
            };
            if crash || restart_each_pass {
                self.restart();
            }
        }
        Err(Broken::NeverEnded {
            refund: refund.out_refund_no.clone(),
            state: self.state(refund),
        })
    }

    /// Runs one sequence and checks every invariant; returns how many letters were used.
    async fn check(
        &mut self,
        letters: &[Letter],
        restart_each_pass: bool,
    ) -> Result<usize, Broken> {
        let order = self.paid_order();
        let first = self.approve(self.request(&order, FIRST).unwrap()).unwrap();
        *self.transport.script.lock().unwrap() = letters.iter().cloned().collect();
        let first_end = self.drive(&first, restart_each_pass).await?;
        let unused = std::mem::take(&mut *self.transport.script.lock().unwrap()).len();

        let ledger = |w: &World| -> Vec<(String, i64)> {
            w.sim
                .ledger()
                .into_iter()
                .filter(|e| e.out_trade_no == order.out_trade_no.as_str())
                .filter(|e| e.kind == LedgerKind::Refund)
                .map(|e| (e.out_refund_no.unwrap_or_default(), -e.amount))
                .collect()
        };
        let paid = |ledger: &[(String, i64)], no: &OutRefundNo| {
            ledger.iter().filter(|(n, _)| n == no.as_str()).count()
        };
        let after_first = ledger(self);
        match (first_end, paid(&after_first, &first.out_refund_no)) {
            (RefundState::Succeeded, 1) | (RefundState::Failed, 0) => {}
            (state, paid) => return Err(Broken::FirstDisagrees { state, paid }),
        }

        // A second request for the same order: the desk may approve it only if the first moved
        // no money (600 + 600 is more than the 1000 paid).
        let second = self
            .request(&order, FIRST)
            .and_then(|request| self.approve(request));
        let second = match (second, first_end) {
            (Ok(second), RefundState::Failed) => Some(second),
            (Err(CoreError::ExceedsRefundable { .. }), RefundState::Succeeded) => None,
            (outcome, first) => return Err(Broken::SecondApproval { outcome, first }),
        };
        if let Some(second) = &second {
            let end = self.drive(second, restart_each_pass).await?;
            if end != RefundState::Succeeded {
                return Err(Broken::SecondEnded(end));
            }
        }

        let ledger = ledger(self);
        let mut approved = vec![first.clone()];
        approved.extend(second);
        for (no, fee) in &ledger {
            let Some(refund) = approved.iter().find(|a| a.out_refund_no.as_str() == no) else {
                return Err(Broken::Unapproved(no.clone()));
            };
            if refund.refund_fee.get() != *fee {
                return Err(Broken::WrongAmount {
                    refund: no.clone(),
                    paid: *fee,
                    approved: refund.refund_fee,
                });
            }
        }
        for refund in &approved {
            let times = paid(&ledger, &refund.out_refund_no);
            let state = self.state(refund);
            let agrees = matches!(
                (state, times),
                (RefundState::Succeeded, 1) | (RefundState::Failed, 0)
            );
            if !agrees {
                return Err(Broken::Disagrees {
                    refund: refund.out_refund_no.clone(),
                    state,
                    paid: times,
                });
            }
        }
        let desk_view = self
            .store
            .order(order.out_trade_no.as_str())
            .unwrap()
            .unwrap();
        let wechat_refunded: i64 = ledger.iter().map(|(_, fee)| fee).sum();
        if desk_view.committed.get() != wechat_refunded {
            return Err(Broken::Totals {
                desk: desk_view.committed,
                wechat: wechat_refunded,
            });
        }
        Ok(letters.len() - unused)
    }
}

/// How a run broke the money rules.
#[derive(Debug, thiserror::Error)]
enum Broken {
    #[error("a pass failed: {0}")]
    Pass(CoreError),
    #[error(
        "refund {refund} did not end in {MAX_PASSES} passes (still {}): an approval lost",
        state.as_str()
    )]
    NeverEnded {
        refund: OutRefundNo,
        state: RefundState,
    },
    #[error("the desk says {} for a refund WeChat paid {paid} time(s)", state.as_str())]
    FirstDisagrees { state: RefundState, paid: usize },
    #[error("second approval {outcome:?} after the first ended {}", first.as_str())]
    SecondApproval {
        outcome: Result<ApprovedRefund, CoreError>,
        first: RefundState,
    },
    #[error("the second refund ended {}", .0.as_str())]
    SecondEnded(RefundState),
    #[error("WeChat paid {0}, which nobody approved")]
    Unapproved(String),
    #[error("WeChat paid {paid} fen for {refund}, approved {approved}")]
    WrongAmount {
        refund: String,
        paid: i64,
        approved: Fen,
    },
    #[error("{refund}: the desk says {}, WeChat paid it {paid} time(s)", state.as_str())]
    Disagrees {
        refund: OutRefundNo,
        state: RefundState,
        paid: usize,
    },
    #[error("the desk counts {desk} fen refunded, WeChat's ledger {wechat}")]
    Totals { desk: Fen, wechat: i64 },
}

/// Which sequences to run: all of up to two letters; of three letters, every extension of the
/// two-letter prefixes `(a, b)` whose positions add up to a multiple of `stride` (1: all of
/// them; 39, the alphabet's size: one `b` for each `a`, so every letter in every position).
fn sequences(letters: &[Letter], stride: usize) -> Vec<Vec<Letter>> {
    let mut all = vec![Vec::new()];
    for a in letters {
        all.push(vec![a.clone()]);
    }
    for (i, a) in letters.iter().enumerate() {
        for (j, b) in letters.iter().enumerate() {
            all.push(vec![a.clone(), b.clone()]);
            if (i + j) % stride == 0 {
                for c in letters {
                    all.push(vec![a.clone(), b.clone(), c.clone()]);
                }
            }
        }
    }
    all
}

/// The stride of two-letter prefixes extended to three by default: 39, so 1,521 of the 59,319
/// three-letter sequences, every letter in every position. `MERCHANT_DESK_EXHAUSTIVE=full` runs every sequence, a number another stride.
fn budget() -> usize {
    const CI_STRIDE: usize = 39;
    match std::env::var("MERCHANT_DESK_EXHAUSTIVE").as_deref() {
        Ok("full") => 1,
        Ok(stride) => stride.parse().unwrap_or(CI_STRIDE),
        Err(_) => CI_STRIDE,
    }
}

#[test]
fn every_fault_sequence_of_up_to_three_keeps_the_money_right() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let letters = alphabet();
    assert_eq!(letters.len(), 39);
    let runs: Vec<(Vec<Letter>, bool)> = sequences(&letters, budget())
        .into_iter()
        .flat_map(|s| [(s.clone(), false), (s, true)])
        .collect();
    let started = Instant::now();
    let workers = 2;
    let chunks: Vec<Vec<(Vec<Letter>, bool)>> = (0..workers)
        .map(|w| runs.iter().skip(w).step_by(workers).cloned().collect())
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    let results: Vec<(usize, usize, Vec<String>)> = runtime.block_on(async {
        let handles: Vec<_> = chunks
            .into_iter()
            .enumerate()
            .map(|(worker, chunk)| {
                tokio::spawn(async move {
                    let mut world = World::new().await;
                    let (mut ran, mut used, mut failures) = (0, 0, Vec::new());
                    for (letters, restart_each_pass) in chunk {
                        // A fresh simulator and database now and then: the simulator's ledger,
                        // read after every run, would otherwise grow with the campaign.
                        if ran > 0 && ran % FRESH_WORLD_EVERY == 0 {
                            world = World::new().await;
                        }
                        match world.check(&letters, restart_each_pass).await {
                            Ok(n) => used += n,
                            Err(why) => failures.push(format!(
                                "{letters:?} (restart each pass: {restart_each_pass}): {why}"
                            )),
                        }
                        ran += 1;
                        // A long run says how far it is, so a stopped one still tells something.
                        if ran % PROGRESS_EVERY == 0 {
                            eprintln!(
                                "exhaustive: worker {worker}: {ran} runs, {} failed, {:.0} s",
                                failures.len(),
                                started.elapsed().as_secs_f64()
                            );
                        }
                        // A failed run may leave letters behind; the next starts clean.
                        world.transport.script.lock().unwrap().clear();
                    }
                    (ran, used, failures)
                })
            })
            .collect();
        let mut results = Vec::new();
        for handle in handles {
            results.push(handle.await.unwrap());
        }
        results
    });
    let ran: usize = results.iter().map(|r| r.0).sum();
    let used: usize = results.iter().map(|r| r.1).sum();
    let failures: Vec<&String> = results.iter().flat_map(|r| &r.2).collect();
    println!(
        "exhaustive: {ran} runs ({} sequences × 2 restart modes, stride {}), {used} faults met, {} failed, {:.0} s",
        ran / 2,
        budget(),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {ran} runs broke the money rules; the first:\n{}",
        failures.len(),
        failures
            .iter()
            .take(5)
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
