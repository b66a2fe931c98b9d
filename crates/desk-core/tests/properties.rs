//! Property: no interleaving of requests, approvals, injected faults, crashes mid-submit and
//! restarts makes the simulator's ledger pay out more than an order's payment, or pay one
//! refund twice; and when the dust settles, the desk and the ledger agree on every refund.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use desk_core::*;
use proptest::prelude::*;
use wxpay::*;
use wxpay_client::HttpsTransport;
use wxpay_sim::{Endpoint, Fault, FaultPlan, LedgerKind, NewOrder, SimConfig, SimHandle};

const TOTALS: [i64; 3] = [1000, 300, 77];

#[derive(Debug, Clone)]
enum Step {
    Request {
        order: usize,
        fee: i64,
    },
    Approve {
        request: usize,
        partial: Option<i64>,
    },
    Fault(usize),
    Pass,
    /// The process claimed a refund (and maybe sent it), then died; a new one starts.
    Crash {
        refund: usize,
        sent: bool,
    },
    Restart,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..TOTALS.len(), 1i64..1100).prop_map(|(order, fee)| Step::Request { order, fee }),
        3 => (0usize..8, proptest::option::of(1i64..600))
            .prop_map(|(request, partial)| Step::Approve { request, partial }),
        2 => (0..FAULTS).prop_map(Step::Fault),
        3 => Just(Step::Pass),
        1 => (0usize..8, any::<bool>()).prop_map(|(refund, sent)| Step::Crash { refund, sent }),
        1 => Just(Step::Restart),
    ]
}

const FAULTS: usize = 6;

fn fault(n: usize) -> FaultPlan {
    let error = |code: &str, after_record| Fault::Error {
        err_code: code.into(),
        after_record,
    };
    let fault = match n {
        0 => error("SYSTEMERROR", false),
        1 => error("SYSTEMERROR", true),
        2 => Fault::Drop { after_record: true },
        3 => Fault::Garbage { after_record: true },
        4 => Fault::HttpStatus {
            status: 502,
            after_record: false,
        },
        _ => error("BIZERR_NEED_RETRY", false),
    };
    FaultPlan {
        endpoint: if n == 4 {
            Endpoint::RefundQuery
        } else {
            Endpoint::Refund
        },
        fault,
        count: 1,
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// One simulator data directory for every case: its certificates are made once.
fn sim_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn settings() -> EngineSettings {
    EngineSettings {
        first_check_after: Duration::ZERO,
        retry_base: Duration::ZERO,
        ..EngineSettings::default()
    }
}

struct Desk {
    path: PathBuf,
    store: Arc<Store>,
    engine: Engine<HttpsTransport>,
}

impl Desk {
    fn open(path: &Path, sim: &SimHandle) -> Desk {
        let store = Arc::new(Store::open(path).unwrap());
        let engine = Engine::new(
            store.clone(),
            support::client_for(sim, SignType::Md5),
            settings(),
        );
        Desk {
            path: path.to_owned(),
            store,
            engine,
        }
    }

    /// Everything in memory is lost; the file stays.
    fn restart(self, sim: &SimHandle) -> Desk {
        let path = self.path.clone();
        drop(self);
        Desk::open(&path, sim)
    }
}

async fn run(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let mut config = SimConfig::new(sim_dir());
    config.refund_delay = Duration::from_millis(30);
    config.notifier.duplicate_probability = 0.0;
    let sim = wxpay_sim::start(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut desk = Desk::open(&dir.path().join("desk.sqlite3"), &sim);

    let mut orders = Vec::new();
    for total in TOTALS {
        let order = sim
            .create_order(NewOrder {
                total_fee: total,
                ..Default::default()
            })
            .unwrap();
        let paid = sim.pay(&order.out_trade_no).unwrap();
        let payment = Payment {
            out_trade_no: OutTradeNo::new(paid.out_trade_no.clone()).unwrap(),
            transaction_id: TransactionId::new(paid.transaction_id.clone().unwrap()).unwrap(),
            total_fee: Fen::new(total),
            paid_at: now(),
            openid: None,
            trade_type: None,
            attach: None,
            source: PaymentSource::Notification,
        };
        desk.store.record_payment(&payment, now()).unwrap();
        orders.push(payment);
    }
    let owner = support::owner();
    let mut requests = Vec::new();
    let mut refunds: Vec<ApprovedRefund> = Vec::new();
    for step in steps {
        match step {
            Step::Request { order, fee } => {
                let request = NewRequest {
                    request_id: None,
                    out_trade_no: orders[order].out_trade_no.clone(),
                    refund_fee: Fen::new(fee),
                    reason: "property".into(),
                    customer: None,
                };
                if let Ok((id, _)) = desk.store.add_request(&request, now()) {
                    requests.push(id);
                }
            }
            Step::Approve { request, partial } => {
                if let Some(&id) = requests.get(request)
                    && let Ok(approved) =
                        desk.store.approve(id, partial.map(Fen::new), &owner, now())
                {
                    refunds.push(approved);
                }
            }
            Step::Fault(n) => sim.inject(fault(n)),
            Step::Pass => {
                let _ = desk.engine.run_once(now()).await;
            }
            Step::Crash { refund, sent } => {
                if let Some(approved) = refunds.get(refund)
                    && desk
                        .store
                        .transition(
                            approved.refund,
                            RefundState::Approved,
                            RefundState::Submitting,
                            now(),
                        )
                        .is_ok()
                {
                    if sent {
                        let order = refund_order(&desk.store, approved, &orders);
                        let _ = support::client_for(&sim, SignType::Md5)
                            .execute(&RefundRequest {
                                order: OrderRef::TransactionId(order.transaction_id.clone()),
                                out_refund_no: approved.out_refund_no.clone(),
                                total_fee: order.total_fee,
                                refund_fee: approved.refund_fee,
                                refund_fee_type: None,
                                refund_desc: None,
                                refund_account: None,
                                notify_url: None,
                            })
                            .await;
                    }
                    desk = desk.restart(&sim);
                }
            }
            Step::Restart => desk = desk.restart(&sim),
        }
        check_ledger(&sim, &orders)?;
    }

    // Let everything settle: faults run out, processing refunds end.
    // The engine's clock runs ahead by an hour more each pass, past every backoff and pause.
    for pass in 1..=300 {
        let _ = desk.engine.run_once(now() + 3600 * pass).await;
        if desk.store.due_count(i64::MAX, 1).unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    check_ledger(&sim, &orders)?;
    let ledger = sim.ledger();
    for approved in &refunds {
        let state = desk
            .store
            .refund_by_number(approved.out_refund_no.as_str())
            .unwrap()
            .unwrap()
            .state;
        let paid = ledger
            .iter()
            .filter(|e| {
                e.kind == LedgerKind::Refund
                    && e.out_refund_no.as_deref() == Some(approved.out_refund_no.as_str())
            })
            .count();
        prop_assert_eq!(state, RefundState::Succeeded, "{:?}", approved);
        prop_assert_eq!(
            paid,
            1,
            "refund {} paid {} times",
            approved.out_refund_no,
            paid
        );
    }
    for order in &orders {
        let desk_order = desk
            .store
            .order(order.out_trade_no.as_str())
            .unwrap()
            .unwrap();
        let refunded: i64 = ledger
            .iter()
            .filter(|e| {
                e.out_trade_no == order.out_trade_no.as_str() && e.kind != LedgerKind::Payment
            })
            .map(|e| -e.amount)
            .sum();
        prop_assert_eq!(
            desk_order.committed.get(),
            refunded,
            "desk and ledger agree"
        );
    }
    sim.shutdown();
    Ok(())
}

fn refund_order<'a>(
    store: &Store,
    approved: &ApprovedRefund,
    orders: &'a [Payment],
) -> &'a Payment {
    let out_trade_no = store
        .refund_by_number(approved.out_refund_no.as_str())
        .unwrap()
        .unwrap()
        .out_trade_no;
    orders
        .iter()
        .find(|o| o.out_trade_no.as_str() == out_trade_no)
        .unwrap()
}

/// Never more out than in, never one refund number paid twice.
fn check_ledger(sim: &SimHandle, orders: &[Payment]) -> Result<(), TestCaseError> {
    let ledger = sim.ledger();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for entry in ledger.iter().filter(|e| e.kind == LedgerKind::Refund) {
        let number = entry.out_refund_no.as_deref().unwrap_or_default();
        *seen.entry(number).or_default() += 1;
        prop_assert_eq!(seen[number], 1, "refund {} paid twice", number);
    }
    for order in orders {
        let out: i64 = ledger
            .iter()
            .filter(|e| {
                e.out_trade_no == order.out_trade_no.as_str() && e.kind != LedgerKind::Payment
            })
            .map(|e| -e.amount)
            .sum();
        prop_assert!(
            out <= order.total_fee.get(),
            "order {} refunded {out}",
            order.out_trade_no
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn faults_crashes_and_restarts_never_pay_too_much_or_twice(
        steps in proptest::collection::vec(step(), 1..24)
    ) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(run(steps))?;
    }
}
