//! `desk-bench`: the desk's benchmarks, each printing a Markdown table for BENCHMARKS.md.

use std::io::Write;
use std::time::Duration;

use clap::{Parser, Subcommand};
use desk_bench::intake;
use desk_bench::stats::millis;

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
            writeln!(
                out,
                "| connections | notifications/s | p50 | p99 | max | to alert p50 | to alert p99 | stored / alerts |"
            )?;
            writeln!(out, "|---|---|---|---|---|---|---|---|")?;
            let ms = |d: Duration| format!("{:.2} ms", millis(d));
            for run in runs {
                writeln!(
                    out,
                    "| {} | {:.0} | {} | {} | {} | {} | {} | {} / {} of {}{} |",
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
        }
    }
    Ok(())
}
