//! `desk-bench`: the desk's benchmarks, each printing a Markdown table for BENCHMARKS.md.

#![forbid(unsafe_code)]

use std::io::Write;
use std::time::Duration;

use clap::{Parser, Subcommand};
use desk_bench::error::BenchError;
use desk_bench::stats::millis;
use desk_bench::{intake, refunds, relayed};

#[derive(Parser)]
#[command(about = "Merchant Desk's benchmarks (see BENCHMARKS.md)")]
struct Args {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Payment notifications over HTTP on loopback, verified and committed before SUCCESS.
    Intake {
        /// Concurrent connections, one level each.
        #[arg(long, value_delimiter = ',', default_value = "1,8,64,256")]
        connections: Vec<usize>,
        /// Notifications per level.
        #[arg(long, default_value_t = 20_000)]
        count: usize,
    },
    /// Payment notifications through the relay to an alert on a connected desk, beside the
    /// direct intake at the same load.
    Relay {
        #[arg(long, value_delimiter = ',', default_value = "64")]
        connections: Vec<usize>,
        #[arg(long, default_value_t = 20_000)]
        count: usize,
    },
    /// Approved refunds driven to SUCCESS against the simulator at the engine's rate limit.
    Refunds {
        #[arg(long, default_value_t = 1_000)]
        count: usize,
        /// Rate limits (requests to WeChat a second), one run each; a high one shows what the
        /// engine itself can do.
        #[arg(long, value_delimiter = ',', default_value = "150,100000")]
        rates: Vec<u32>,
    },
    /// Parse + verify of payment notifications, side by side with wechatpy on the same bodies.
    Protocol {
        /// The Python with wechatpy installed (scripts/bench.sh makes a virtualenv).
        #[arg(long)]
        python: std::path::PathBuf,
    },
    /// Every user action's time and SQLite steps on databases of each size, and the plans.
    Growth {
        /// Paid orders; a tenth of them have a refund request.
        #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
        orders: Vec<usize>,
    },
}

/// Rows of intake runs (with a header when `path` is `None`, else led by `path`).
fn intake_table(
    out: &mut impl Write,
    path: Option<&str>,
    runs: Vec<intake::IntakeRun>,
) -> Result<(), BenchError> {
    if path.is_none() {
        writeln!(
            out,
            "| connections | notifications/s | p50 | p99 | max | to alert p50 | to alert p99 | stored / alerts |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|---|---|")?;
    }
    let ms = |d: Duration| format!("{:.2} ms", millis(d));
    for run in runs {
        writeln!(
            out,
            "| {}{} | {:.0} | {} | {} | {} | {} | {} | {} / {} of {}{} |",
            path.map_or(String::new(), |p| format!("{p} | ")),
            run.connections,
            run.per_second(),
            ms(run.p(0.5)),
            ms(run.p(0.99)),
            ms(run.p(1.0)),
            ms(run.alert_p(0.5)),
            ms(run.alert_p(0.99)),
            run.stored,
            run.alerts,
            run.notifications,
            if run.refused > 0 {
                format!(", {} refused", run.refused)
            } else {
                String::new()
            },
        )?;
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    match run(args.bench) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("desk-bench: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(bench: Bench) -> Result<(), Box<dyn std::error::Error>> {
    let mut out = std::io::stdout().lock();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match bench {
        Bench::Intake { connections, count } => {
            let dir = tempfile::tempdir()?;
            let runs = runtime.block_on(intake::run(dir.path(), &connections, count))?;
            intake_table(&mut out, None, runs)?;
        }
        Bench::Relay { connections, count } => {
            let direct = tempfile::tempdir()?;
            let direct = runtime.block_on(intake::run(direct.path(), &connections, count))?;
            let relayed = tempfile::tempdir()?;
            let relayed = runtime.block_on(relayed::run(relayed.path(), &connections, count))?;
            writeln!(
                out,
                "| path | connections | notifications/s | p50 | p99 | max | to alert p50 | to alert p99 | stored / alerts |"
            )?;
            writeln!(out, "|---|---|---|---|---|---|---|---|---|")?;
            intake_table(&mut out, Some("direct intake"), direct)?;
            intake_table(&mut out, Some("through the relay"), relayed)?;
        }
        Bench::Refunds { count, rates } => {
            writeln!(
                out,
                "| rate limit | refunds | all sent | sends/s | all SUCCESS | requests to WeChat | in the ledger |"
            )?;
            writeln!(out, "|---|---|---|---|---|---|---|")?;
            for rate in rates {
                let dir = tempfile::tempdir()?;
                let run = runtime.block_on(refunds::run(dir.path(), count, rate))?;
                writeln!(
                    out,
                    "| {}/s | {} | {:.2} s | {:.0} | {:.2} s | {} + {} | {} |",
                    run.rate_limit,
                    run.refunds,
                    run.all_sent.as_secs_f64(),
                    run.sends_per_second(),
                    run.all_succeeded.as_secs_f64(),
                    run.refund_calls,
                    run.queries,
                    run.in_ledger,
                )?;
            }
        }
        Bench::Protocol { python } => {
            let dir = tempfile::tempdir()?;
            let (desk, peer, version, sizes) = desk_bench::protocol::run(dir.path(), &python)?;
            writeln!(
                out,
                "| notification | bytes | Merchant Desk | wechatpy (Python {version}) | ratio |"
            )?;
            writeln!(out, "|---|---|---|---|---|")?;
            for (name, bytes, ours, theirs) in [
                ("MD5", sizes[0], desk.md5, peer.md5),
                ("HMAC-SHA256", sizes[1], desk.hmac_sha256, peer.hmac_sha256),
            ] {
                writeln!(
                    out,
                    "| {name} | {bytes} | {ours:.2} µs | {theirs:.1} µs | {:.0}× |",
                    theirs / ours
                )?;
            }
        }
        Bench::Growth { orders } => growth_table(&mut out, &orders)?,
    }
    Ok(())
}

/// Each action's time (and VM steps) at each size, the best of three runs; then, for the
/// largest size, each statement's plan.
fn growth_table(out: &mut impl Write, sizes: &[usize]) -> Result<(), Box<dyn std::error::Error>> {
    use desk_bench::growth::user_actions;
    use desk_bench::seed::{Shop, seed};
    let mut columns = Vec::new();
    let mut plans = Vec::new();
    for &orders in sizes {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("desk.sqlite3");
        let shop = Shop {
            orders,
            requests: orders / 10,
        };
        let now = desk_core::unix_now();
        let seeding = std::time::Instant::now();
        seed(&path, shop, now)?;
        eprintln!(
            "seeded {orders} orders in {:.1} s",
            seeding.elapsed().as_secs_f64()
        );
        let mut best: Vec<(String, f64, i64)> = Vec::new();
        for round in 0..3 {
            // A fresh copy each round: the actions approve, reject and add rows.
            let copy = dir.path().join(format!("round-{round}.sqlite3"));
            std::fs::copy(&path, &copy)?;
            let store = desk_core::Store::open(&copy)?;
            let actions = user_actions(&store, shop, now)?;
            if round == 0 && Some(&orders) == sizes.last() {
                for action in &actions {
                    for statement in &action.statements {
                        if let Some(sql) = &statement.expanded
                            && sql.trim_start().starts_with("SELECT")
                        {
                            plans.push((action.name.clone(), store.query_plan(sql)?.join("; ")));
                        }
                    }
                }
            }
            for (i, action) in actions.iter().enumerate() {
                let steps: i64 = action
                    .statements
                    .iter()
                    .map(|s| i64::from(s.vm_steps))
                    .sum();
                if round == 0 {
                    best.push((action.name.clone(), action.micros(), steps));
                } else {
                    best[i].1 = best[i].1.min(action.micros());
                }
            }
            drop(store);
            std::fs::remove_file(&copy)?;
        }
        columns.push(best);
    }
    write!(out, "| action |")?;
    for orders in sizes {
        write!(out, " {orders} orders |")?;
    }
    writeln!(out)?;
    writeln!(out, "|---|{}", "---|".repeat(sizes.len()))?;
    for (i, (name, _, _)) in columns[0].iter().enumerate() {
        write!(out, "| {name} |")?;
        for column in &columns {
            let (_, micros, steps) = &column[i];
            write!(out, " {micros:.0} µs ({steps} steps) |")?;
        }
        writeln!(out)?;
    }
    writeln!(out)?;
    let mut seen = std::collections::BTreeSet::new();
    for (action, plan) in plans {
        if seen.insert(plan.clone()) {
            writeln!(out, "- {action}: `{plan}`")?;
        }
    }
    Ok(())
}
