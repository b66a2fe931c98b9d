//! Chaos refunds: orders paid in the simulator, refund requests posted to the desk's intake and
//! approved (some partially, several per order), while the simulator injects every fault it has
//! into the calls the desk makes and the desk process (`merchant-desk-cli serve`) is killed with
//! SIGKILL at random moments and restarted. At the end every approved refund has succeeded exactly
//! once in the simulator's ledger, no order is refunded more than was paid, no request is lost and
//! the desk's records agree with the ledger.
//!
//! A plain `cargo test` runs a bounded campaign. The full one, as recorded in RELIABILITY.md:
//!
//! ```text
//! CHAOS_ORDERS=1000 CHAOS_REFUNDS=1000 CHAOS_KILLS=25 \
//!   cargo test --release -p merchant-desk-cli --test chaos -- --nocapture
//! ```
//!
//! `CHAOS_SEED` repeats a campaign's choices (orders, amounts, faults, kill moments).

#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};
use wxpay_sim::{Endpoint, Fault, FaultPlan, LedgerKind, NewOrder, SimConfig, SimHandle};

use support::{DeskProcess, cli, free_address, now, production_desk};

/// How big a campaign is; the defaults are the bounded one CI runs.
#[derive(Debug, Clone, Copy)]
struct Campaign {
    orders: usize,
    refunds: usize,
    kills: usize,
    seed: u64,
}

impl Campaign {
    fn from_env() -> Campaign {
        fn var<T: std::str::FromStr>(name: &str, default: T) -> T {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        }
        Campaign {
            orders: var("CHAOS_ORDERS", 40),
            refunds: var("CHAOS_REFUNDS", 60),
            kills: var("CHAOS_KILLS", 6),
            seed: var("CHAOS_SEED", rand::rng().random()),
        }
    }
}

/// One refund the test approves: which order, how much is asked and how much is approved.
#[derive(Debug, Clone)]
struct Planned {
    request_id: String,
    out_trade_no: String,
    asked: i64,
    approved: i64,
}

/// Every fault the simulator has, any of them possibly after the call took effect.
fn random_fault(rng: &mut StdRng) -> FaultPlan {
    let endpoint = [
        Endpoint::Refund,
        Endpoint::RefundQuery,
        Endpoint::OrderQuery,
    ][rng.random_range(0..3)];
    let after_record = rng.random_bool(0.5);
    let fault = match rng.random_range(0..7) {
        0 => Fault::Error {
            err_code: "SYSTEMERROR".into(),
            after_record,
        },
        1 => Fault::Error {
            err_code: "BIZERR_NEED_RETRY".into(),
            after_record,
        },
        2 => Fault::Error {
            err_code: "FREQUENCY_LIMITED".into(),
            after_record: false,
        },
        3 => Fault::Delay {
            ms: rng.random_range(100..1_500),
        },
        4 => Fault::HttpStatus {
            status: [500, 502, 503][rng.random_range(0..3)],
            after_record,
        },
        5 => Fault::Drop { after_record },
        _ => Fault::Garbage { after_record },
    };
    FaultPlan {
        endpoint,
        fault,
        count: rng.random_range(1..=3),
    }
}

/// Splits each order's total among the refunds planned for it; about one in five is approved
/// for less than was asked.
fn plan_refunds(campaign: &Campaign, orders: &[(String, i64)], rng: &mut StdRng) -> Vec<Planned> {
    let mut per_order: BTreeMap<usize, usize> = BTreeMap::new();
    for i in 0..campaign.refunds {
        // Seven in ten go to orders in turn, the rest to random ones: several refunds for some
        // orders, none for others.
        let order = if i < campaign.refunds * 7 / 10 {
            i % orders.len()
        } else {
            rng.random_range(0..orders.len())
        };
        *per_order.entry(order).or_default() += 1;
    }
    let mut planned = Vec::new();
    for (order, count) in per_order {
        let (out_trade_no, total) = &orders[order];
        let weights: Vec<i64> = (0..count).map(|_| rng.random_range(1..100)).collect();
        let sum: i64 = weights.iter().sum();
        for (n, weight) in weights.iter().enumerate() {
            let asked = (total * weight / sum).max(1);
            let approved = if rng.random_bool(0.2) {
                (asked / 2).max(1)
            } else {
                asked
            };
            planned.push(Planned {
                request_id: format!("chaos-{out_trade_no}-{n}"),
                out_trade_no: out_trade_no.clone(),
                asked,
                approved,
            });
        }
    }
    planned.shuffle(rng);
    planned
}

/// The shop's backend: posts until the desk has the request (it may be down or just killed).
fn post_request(http: &reqwest::blocking::Client, intake: &str, secret: &str, body: &str) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "the intake never took {body}");
        let timestamp = now();
        let signature = backend_api::sign(secret, timestamp, body.as_bytes());
        let sent = http
            .post(format!("{intake}/api/v1/refund-requests"))
            .header("Content-Type", "application/json")
            .header(backend_api::TIMESTAMP_HEADER, timestamp.to_string())
            .header(backend_api::SIGNATURE_HEADER, signature)
            .body(body.to_owned())
            .send();
        let Ok(answer) = sent else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        let status = answer.status().as_u16();
        let text = answer.text().unwrap_or_default();
        match status {
            200 | 201 => {
                let value: Value = serde_json::from_str(&text).unwrap();
                return value["id"].as_i64().unwrap();
            }
            // The same body signed in the same second is a replay; sign again a second later.
            409 if text.contains("replay") => std::thread::sleep(Duration::from_millis(1_000)),
            // WeChat could not confirm the order just now, or the desk is restarting.
            502 | 503 | 500 | 408 | 404 => std::thread::sleep(Duration::from_millis(200)),
            _ => panic!("the intake refused {body}: {status} {text}"),
        }
    }
}

/// The desk's queue, by request number.
fn queue(dir: &Path) -> HashMap<i64, Value> {
    let output = cli(dir, &["refunds", "list", "--json", "--limit", "1000000"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let items: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    items
        .into_iter()
        .map(|item| (item["request"].as_i64().unwrap(), item))
        .collect()
}

#[test]
fn chaos_refunds_settle_exactly_once_through_faults_and_kills() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let campaign = Campaign::from_env();
    eprintln!(
        "chaos campaign: {campaign:?} (repeat with CHAOS_SEED={})",
        campaign.seed
    );
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(campaign.seed);
    let temp = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    // WeChat Pay: refunds settle quickly, notifications are retried on a compressed schedule.
    let mut config = SimConfig::new(temp.path().join("wechat"));
    config.refund_delay = Duration::from_millis(300);
    config.notifier.time_scale = 0.002;
    let sim: Arc<SimHandle> = Arc::new(runtime.block_on(wxpay_sim::start(config)).unwrap());

    // The desk: the simulator's merchant set up as production, refund notifications asked for.
    let dir = temp.path().join("desk");
    let listen = free_address();
    let intake = format!("http://{listen}");
    let secret = production_desk(&sim, &dir, listen);
    let desk = Arc::new(Mutex::new(DeskProcess::new(
        dir.clone(),
        listen,
        temp.path().join("logs"),
    )));
    desk.lock().unwrap().start();

    // Customers pay; each payment notification reaches the desk (retried while it is down).
    let orders: Vec<(String, i64)> = (0..campaign.orders)
        .map(|i| {
            let total = rng.random_range(500..30_000);
            let order = sim
                .create_order(NewOrder {
                    total_fee: total,
                    body: Some(format!("chaos order {i}")),
                    notify_url: Some(format!("{intake}/wxpay/notify")),
                    ..NewOrder::default()
                })
                .unwrap();
            sim.pay(&order.out_trade_no).unwrap();
            (order.out_trade_no, total)
        })
        .collect();
    let planned = plan_refunds(&campaign, &orders, &mut rng);
    let mut orders_paid = orders.clone();

    // Chaos: faults in every WeChat call the desk makes, and a killer.
    let stop = Arc::new(AtomicBool::new(false));
    let faults_injected = Arc::new(AtomicUsize::new(0));
    let fault_thread = {
        let (sim, stop, count) = (sim.clone(), stop.clone(), faults_injected.clone());
        let mut rng = StdRng::seed_from_u64(campaign.seed ^ 0xFA17);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(rng.random_range(20..150)));
                sim.inject(random_fault(&mut rng));
                count.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let approvals_done = Arc::new(AtomicBool::new(false));
    let killer = {
        let (desk, stop, done) = (desk.clone(), stop.clone(), approvals_done.clone());
        let mut rng = StdRng::seed_from_u64(campaign.seed ^ 0xDEAD);
        let kills = campaign.kills;
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(rng.random_range(200..2_500)));
                let mut desk = desk.lock().unwrap();
                let enough = desk.kills >= kills && done.load(Ordering::Relaxed);
                if enough || stop.load(Ordering::Relaxed) {
                    return;
                }
                desk.kill();
                std::thread::sleep(Duration::from_millis(rng.random_range(0..300)));
                desk.start();
            }
        })
    };

    // The backend posts each request; the owner approves it (from the terminal, as the desk
    // may be down at that moment: approval is a local decision, the desk sends it later).
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut approved: HashMap<i64, Planned> = HashMap::new();
    for plan in &planned {
        let body = json!({
            "request_id": plan.request_id,
            "out_trade_no": plan.out_trade_no,
            "refund_fee": plan.asked,
            "reason": "chaos",
        })
        .to_string();
        let id = post_request(&http, &intake, &secret, &body);
        let id_text = id.to_string();
        let amount = plan.approved.to_string();
        let mut args = vec![
            "refunds", "approve", &id_text, "--by", "chaos", "--owner", "--json",
        ];
        if plan.approved != plan.asked {
            args.extend(["--amount", &amount]);
        }
        let answer = cli(&dir, &args);
        assert!(
            answer.status.success(),
            "approving {plan:?}: {}",
            String::from_utf8_lossy(&answer.stderr)
        );
        approved.insert(id, plan.clone());
    }

    // Two requests for 70% of one order each: the intake takes both (neither is approved yet),
    // the first approval passes, the second would refund more than was paid and is refused.
    let mut overdrawn = Vec::new();
    for i in 0..5 {
        let total = 10_000;
        let order = sim
            .create_order(NewOrder {
                total_fee: total,
                body: Some(format!("chaos double ask {i}")),
                notify_url: Some(format!("{intake}/wxpay/notify")),
                ..NewOrder::default()
            })
            .unwrap();
        sim.pay(&order.out_trade_no).unwrap();
        let ask = |n: usize| {
            let body = json!({
                "request_id": format!("chaos-{}-twice-{n}", order.out_trade_no),
                "out_trade_no": order.out_trade_no,
                "refund_fee": total * 7 / 10,
                "reason": "chaos: asked twice",
            })
            .to_string();
            post_request(&http, &intake, &secret, &body)
        };
        let (first, second) = (ask(1), ask(2));
        let approve = |id: i64| {
            cli(
                &dir,
                &[
                    "refunds",
                    "approve",
                    &id.to_string(),
                    "--by",
                    "chaos",
                    "--owner",
                    "--json",
                ],
            )
        };
        let passed = approve(first);
        assert!(
            passed.status.success(),
            "{}",
            String::from_utf8_lossy(&passed.stderr)
        );
        let refused = approve(second);
        assert_eq!(
            refused.status.code(),
            Some(1),
            "the second 70% was approved"
        );
        approved.insert(
            first,
            Planned {
                request_id: format!("chaos-{}-twice-1", order.out_trade_no),
                out_trade_no: order.out_trade_no.clone(),
                asked: total * 7 / 10,
                approved: total * 7 / 10,
            },
        );
        overdrawn.push(second);
        orders_paid.push((order.out_trade_no.clone(), total));
    }
    approvals_done.store(true, Ordering::Relaxed);
    killer.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    fault_thread.join().unwrap();
    runtime.block_on(async {
        reqwest::Client::new()
            .delete(format!("{}/v1/faults", sim.info().control_url))
            .send()
            .await
            .unwrap();
    });
    let kills = desk.lock().unwrap().kills;
    eprintln!(
        "chaos: {} requests posted and approved, {kills} kills, {} fault plans, {:.0?} so far; draining",
        approved.len(),
        faults_injected.load(Ordering::Relaxed),
        started.elapsed()
    );

    // Calm: the desk (running again) finishes every refund.
    let deadline = Instant::now() + Duration::from_secs(15 * 60);
    let finished = loop {
        let queue = queue(&dir);
        let open: Vec<&Value> = approved
            .keys()
            .map(|id| &queue[id])
            .filter(|item| item["state"] != "succeeded")
            .collect();
        if open.is_empty() {
            break queue;
        }
        assert!(
            Instant::now() < deadline,
            "{} refunds never settled, e.g. {}",
            open.len(),
            open[0]
        );
        if std::env::var_os("CHAOS_VERBOSE").is_some() {
            let mut states: BTreeMap<String, usize> = BTreeMap::new();
            for item in &open {
                *states.entry(item["state"].to_string()).or_default() += 1;
            }
            eprintln!(
                "{:.0?}: open {states:?}, e.g. {}",
                started.elapsed(),
                open[0]
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    };

    // The ledger: one refund movement per approval, of the approved amount, under its number.
    let ledger = sim.ledger();
    let mut refunded: HashMap<String, Vec<i64>> = HashMap::new();
    let mut per_order: HashMap<String, i64> = HashMap::new();
    for entry in ledger.iter().filter(|e| e.kind == LedgerKind::Refund) {
        let out_refund_no = entry.out_refund_no.clone().unwrap();
        refunded
            .entry(out_refund_no)
            .or_default()
            .push(-entry.amount);
        *per_order.entry(entry.out_trade_no.clone()).or_default() += -entry.amount;
    }
    assert_eq!(
        refunded.len(),
        approved.len(),
        "one refund in the ledger per approval"
    );
    for (id, plan) in &approved {
        let item = &finished[id];
        let out_refund_no = item["refund"]["out_refund_no"].as_str().unwrap();
        assert_eq!(
            refunded.get(out_refund_no),
            Some(&vec![plan.approved]),
            "request {id} ({plan:?}) refunded exactly once, of the approved amount"
        );
        assert_eq!(item["refund"]["refund_fee"], plan.approved);
    }
    for (out_trade_no, total) in &orders_paid {
        let refunded = per_order.get(out_trade_no).copied().unwrap_or(0);
        assert!(
            refunded <= *total,
            "{out_trade_no}: {refunded} refunded of {total}"
        );
    }
    // No request lost: every one posted is in the queue, the over-asks refused and still waiting.
    let posted: HashSet<i64> = approved.keys().chain(&overdrawn).copied().collect();
    assert_eq!(
        finished.keys().copied().collect::<HashSet<i64>>(),
        posted,
        "the queue holds exactly the requests posted"
    );
    for id in &overdrawn {
        assert_eq!(finished[id]["state"], "pending", "{}", finished[id]);
    }
    // Each payment stored once: the desk's orders are the simulator's.
    let listed = cli(&dir, &["orders", "list", "--json", "--limit", "1000000"]);
    let listed: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed.len(), orders_paid.len());

    let most = approved
        .values()
        .fold(HashMap::<&str, usize>::new(), |mut counts, plan| {
            *counts.entry(plan.out_trade_no.as_str()).or_default() += 1;
            counts
        })
        .into_values()
        .max()
        .unwrap_or(0);
    let partial = approved.values().filter(|p| p.approved < p.asked).count();
    eprintln!(
        "chaos: {} orders, {} refunds ({partial} approved for less than asked, up to {most} on one order) settled exactly once, {kills} SIGKILLs, {} fault plans, {:.1?} in all",
        orders_paid.len(),
        approved.len(),
        faults_injected.load(Ordering::Relaxed),
        started.elapsed()
    );
    assert!(kills >= campaign.kills);
    desk.lock().unwrap().kill();
    sim.shutdown();
}
