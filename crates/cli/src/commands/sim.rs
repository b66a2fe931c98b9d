//! `sim`: the WeChat Pay v2 simulator as a process.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use wxpay_sim::{DemoTraffic, IntakeTarget, SimConfig};

use super::CliError;

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Where the sandbox merchant's certificates and credentials live (made on first use), and
    /// its day (orders, refunds, ledger, notifications due), which a restart goes on with.
    #[arg(long, env = "MERCHANT_DESK_SIM_DIR")]
    data_dir: PathBuf,
    /// Begin a fresh day: forget the orders, refunds and ledger kept in the data directory (the
    /// merchant and its certificates stay).
    #[arg(long)]
    fresh: bool,
    /// HTTPS port for WeChat's paths (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// HTTP port for the JSON control API (0: any free port).
    #[arg(long, default_value_t = 0)]
    control_port: u16,
    /// Seconds a refund stays PROCESSING before it ends.
    #[arg(long, default_value_t = 5.0)]
    refund_delay: f64,
    /// Multiplies the notification retry schedule (0.01 makes a day of retries 15 minutes).
    #[arg(long, default_value_t = 1.0)]
    notify_time_scale: f64,
    /// Create and pay a demo order every this many seconds.
    #[arg(long)]
    demo_orders_every: Option<f64>,
    /// Where demo orders' payment notifications go (the desk's /wxpay/notify).
    #[arg(long, requires = "demo_orders_every")]
    demo_notify_url: Option<String>,
    /// Post demo refund requests to this intake URL (the desk's /api/v1/refund-requests).
    #[arg(long, requires_all = ["demo_orders_every", "demo_intake_secret"])]
    demo_intake_url: Option<String>,
    /// The intake's shared secret (or set MERCHANT_DESK_INTAKE_SECRET).
    #[arg(long, env = "MERCHANT_DESK_INTAKE_SECRET", hide_env_values = true)]
    demo_intake_secret: Option<String>,
}

fn seconds(value: f64, flag: &'static str) -> Result<Duration, CliError> {
    Duration::try_from_secs_f64(value).map_err(|_| CliError::NotSeconds(flag.to_owned()))
}

pub fn sim(args: SimArgs) -> Result<String, CliError> {
    let mut config = SimConfig::new(&args.data_dir);
    config.port = args.port;
    config.control_port = args.control_port;
    config.refund_delay = seconds(args.refund_delay, "--refund-delay")?;
    config.notifier.time_scale = args.notify_time_scale.max(0.0);
    config.persist = true;
    if args.fresh {
        wxpay_sim::forget_day(&args.data_dir)?;
    }
    if let Some(every) = args.demo_orders_every {
        config.demo = Some(DemoTraffic {
            order_every: seconds(every, "--demo-orders-every")?.max(Duration::from_millis(100)),
            notify_url: args.demo_notify_url,
            refund_requests: args
                .demo_intake_url
                .zip(args.demo_intake_secret)
                .map(|(url, secret)| IntakeTarget { url, secret }),
            refund_request_probability: 0.2,
        });
    }
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    runtime.block_on(async {
        let handle = wxpay_sim::start(config).await?;
        let info = serde_json::to_string_pretty(handle.info()).map_err(|e| CliError::Output(e.into()))?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{info}").map_err(CliError::Output)?;
        out.flush().map_err(CliError::Output)?;
        drop(out);
        eprintln!(
            "WeChat Pay simulator (sandbox) at {} — control API at {}; details in {}. Ctrl-C stops it.",
            handle.info().base_url,
            handle.info().control_url,
            args.data_dir.join("sim.json").display()
        );
        tokio::signal::ctrl_c().await.map_err(CliError::Runtime)?;
        handle.shutdown();
        Ok("simulator stopped".to_owned())
    })
}
