//! `serve`: the desk without a window — intake and refund engine — printing events as they
//! happen and the alerts of its outbox (what a window would pop up), one line each (JSON lines
//! with `--json`).

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use desk_core::{AlertKind as Fact, CoreError, DeskEvent, StoredAlert};
use desk_runtime::{Alert, AlertSink, Alerter, Mode, RunningDesk, StartOptions};
use serde_json::json;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::CliError;
use super::desk::DeskArgs;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The intake's address (default: config.toml's intake.listen, 127.0.0.1:8720); port 0
    /// picks a free port.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Sandbox only: a made-up paid order every this many seconds, and now and then a refund
    /// request.
    #[arg(long, requires = "sandbox")]
    demo_every: Option<f64>,
    /// Sandbox only: seconds a simulated refund stays PROCESSING.
    #[arg(long, default_value_t = 3.0, requires = "sandbox")]
    sandbox_refund_delay: f64,
}

fn seconds(value: f64, flag: &str) -> Result<Duration, CliError> {
    Duration::try_from_secs_f64(value).map_err(|_| CliError::NotSeconds(flag.to_owned()))
}

pub async fn serve(desk: &DeskArgs, args: ServeArgs) -> Result<String, CliError> {
    let stop = shutdown_signal();
    let mut options = StartOptions::new(desk.dir()?);
    // --sandbox: the built-in simulator whatever config.toml says; its merchant's credentials
    // and the intake's URL and secret go to DATA_DIR/sandbox-credentials.json.
    options.force_sandbox = desk.sandbox;
    options.listen = args.listen;
    options.demo = args
        .demo_every
        .map(|every| seconds(every, "--demo-every").map(|d| d.max(Duration::from_millis(200))))
        .transpose()?;
    options.sandbox_refund_delay = seconds(args.sandbox_refund_delay, "--sandbox-refund-delay")?;
    let data_dir = options.data_dir.clone();
    let running = RunningDesk::start(options).await?;
    let config = running.config();
    let alerter = Alerter::new(config.alerts.clone(), config.language);
    running.deliver_alerts(
        std::sync::Arc::new(std::sync::Mutex::new(alerter)),
        PrintAlerts { json: desk.json },
    );
    let mut events = running.subscribe();
    let mut notices = running.notices();
    for warning in running.warnings() {
        eprintln!("warning: {warning}");
    }
    let mode = match running.mode() {
        Mode::Sandbox => "sandbox",
        Mode::Production => "production",
    };
    let ready = json!({
        "type": "ready",
        "mode": mode,
        "intake_url": running.intake_url(),
        "relay": running.relay_status().is_some(),
        "data_dir": data_dir.root(),
        "sandbox_credentials": (running.mode() == Mode::Sandbox).then(|| data_dir.sandbox_credentials()),
    });
    if desk.json {
        line(&ready.to_string())?;
    } else {
        let intake = match running.relay_status() {
            Some(_) => "reads the shop's messages from the relay at",
            None => "intake at",
        };
        line(&format!(
            "Merchant Desk ({mode}) — {intake} {}, data in {}",
            running.intake_url(),
            data_dir.root().display()
        ))?;
        if running.mode() == Mode::Sandbox {
            line(&format!(
                "SANDBOX: refunds go to the built-in simulator; no real money moves. Credentials for testers: {}",
                data_dir.sandbox_credentials().display()
            ))?;
        }
    }
    let print = |event: &DeskEvent| {
        line(&if desk.json {
            serde_json::to_string(event).map_err(|e| CliError::Output(e.into()))?
        } else {
            describe(event)
        })
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => print(&event)?,
                Err(RecvError::Lagged(missed)) => eprintln!("warning: {missed} events were not printed (output too slow)"),
                Err(RecvError::Closed) => break,
            },
            notice = notices.recv() => if let Ok(notice) = notice {
                eprintln!("warning: {notice}");
            },
            _ = &mut stop => break,
        }
    }
    // Requests under way finish; then every event for what they stored is printed, so a clean
    // stop loses no order's line.
    running.shutdown().await;
    loop {
        match events.try_recv() {
            Ok(event) => print(&event)?,
            Err(TryRecvError::Lagged(missed)) => {
                eprintln!("warning: {missed} events were not printed (output too slow)");
            }
            Err(_) => break,
        }
    }
    Ok(if desk.json {
        json!({ "type": "stopped" }).to_string()
    } else {
        "Merchant Desk stopped".to_owned()
    })
}

/// Alerts on the terminal: the title and body, or (with `--json`) the alert with the order
/// numbers it covers.
struct PrintAlerts {
    json: bool,
}

impl AlertSink for PrintAlerts {
    fn deliver(&mut self, alert: &Alert, facts: &[StoredAlert]) {
        let text = if self.json {
            let orders: Vec<&str> = facts
                .iter()
                .filter(|f| f.kind == Fact::OrderPaid)
                .map(|f| f.out_trade_no.as_str())
                .collect();
            json!({
                "type": "alert",
                "alert": alert,
                "spoken": alert.speech.as_ref().map(|s| &s.hanzi),
                "covers": facts.len(),
                "orders": orders,
            })
            .to_string()
        } else {
            format!("alert             {} — {}", alert.title, alert.body)
        };
        // A closed stdout (the reader went away) is the reader's business; the desk goes on.
        let _ = line(&text);
    }

    fn trouble(&mut self, error: &CoreError) {
        eprintln!("warning: alerts could not be read or marked shown ({error}); trying again");
    }
}

fn line(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(CliError::Output)?;
    out.flush().map_err(CliError::Output)
}

fn describe(event: &DeskEvent) -> String {
    match event {
        DeskEvent::OrderPaid {
            out_trade_no,
            total_fee,
            ..
        } => format!(
            "order paid        {out_trade_no}  {}",
            (*total_fee).to_yuan_display()
        ),
        DeskEvent::RefundRequested {
            request,
            out_trade_no,
            refund_fee,
        } => format!(
            "refund requested  #{request}  order {out_trade_no}  {}",
            (*refund_fee).to_yuan_display()
        ),
        DeskEvent::RequestClosed {
            request,
            out_trade_no,
            state,
        } => format!(
            "request {}  #{request}  order {out_trade_no}",
            state.as_str()
        ),
        DeskEvent::RefundChanged {
            request,
            out_refund_no,
            refund_fee,
            state,
            problem,
            wechat_detail,
            contradicted,
            ..
        } => {
            let mut text = format!(
                "refund {:<12}  #{request}  {out_refund_no}  {}",
                state.as_str(),
                (*refund_fee).to_yuan_display()
            );
            if let Some(problem) = problem {
                text.push_str(&format!("  ({})", problem.describe()));
            }
            if let Some(detail) = wechat_detail {
                text.push_str(&format!("  [WeChat: {detail}]"));
            }
            if *contradicted {
                text.push_str("  (WeChat paid it after the desk had it as failed)");
            }
            text
        }
    }
}

/// Ctrl-C, or SIGTERM from a service manager.
/// Listens for SIGTERM from now on, so that one sent while the desk is starting still stops it
/// cleanly, and resolves on SIGTERM or Ctrl-C.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
