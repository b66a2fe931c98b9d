//! `merchant-desk-cli`: Merchant Desk without a window.
//!
//! The headless desk (`serve`, `orders`, `refunds`, `doctor`, `setup`), the tools of WeChat's
//! online signature checker (`sign`, `verify`), a refund-notification decryptor, and the WeChat
//! Pay simulator (`sim`).
#![forbid(unsafe_code)]

mod commands;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use commands::CliError;
use commands::desk::DeskArgs;
use desk_runtime::WechatServer;

#[derive(Debug, Parser)]
#[command(
    name = "merchant-desk-cli",
    version,
    about = "Merchant Desk without a window: refund queue, intake, WeChat Pay v2 tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the desk headless (intake + refund engine) until Ctrl-C, printing events.
    Serve {
        #[command(flatten)]
        desk: DeskArgs,
        #[command(flatten)]
        args: commands::serve::ServeArgs,
    },
    /// Paid orders.
    Orders {
        #[command(flatten)]
        desk: DeskArgs,
        #[command(subcommand)]
        command: commands::queue::OrdersCommand,
    },
    /// The refund queue: list, approve, reject, create.
    Refunds {
        #[command(flatten)]
        desk: DeskArgs,
        #[command(subcommand)]
        command: commands::queue::RefundsCommand,
    },
    /// Check the setup: config, API key, certificate, and a signed query over mutual TLS.
    Doctor {
        #[command(flatten)]
        desk: DeskArgs,
    },
    /// Save your merchant (appid, mch_id, certificate; API key from WXPAY_API_KEY or stdin;
    /// certificate password from WXPAY_CERT_PASSWORD when it is not the mch_id).
    Setup {
        #[command(flatten)]
        desk: DeskArgs,
        #[command(flatten)]
        args: commands::doctor::SetupArgs,
    },
    /// The shop's relay: pair this desk, see the link.
    Relay {
        #[command(flatten)]
        desk: DeskArgs,
        #[command(subcommand)]
        command: commands::relay::RelayCommand,
    },
    /// Print the v2 sign of k=v parameters (like WeChat's online signature checker).
    Sign(commands::sign::SignArgs),
    /// Check the sign of a v2 XML message read from standard input.
    Verify(commands::sign::VerifyArgs),
    /// Decrypt a refund notification (XML, or a bare req_info) read from standard input; print
    /// its fields as JSON.
    DecryptRefundNotify(commands::decrypt::DecryptArgs),
    /// Run the local WeChat Pay v2 simulator until Ctrl-C (the sandbox).
    Sim(commands::sim::SimArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before anything is written: private files whatever the umask, and room for connections.
    desk_runtime::prepare_process();
    let wechat = developer_switch();
    let json = match &cli.command {
        Command::Serve { desk, .. }
        | Command::Orders { desk, .. }
        | Command::Refunds { desk, .. }
        | Command::Doctor { desk }
        | Command::Setup { desk, .. }
        | Command::Relay { desk, .. } => desk.json,
        _ => false,
    };
    let result = run(cli.command, wechat);
    match result.and_then(|text| write_stdout(&text)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::ChecksFailed(report)) if !json => {
            let _ = writeln!(std::io::stdout(), "{report}");
            let _ = writeln!(std::io::stderr(), "error: some checks failed (see above)");
            ExitCode::FAILURE
        }
        Err(error) => {
            let message = if json {
                serde_json::json!({ "error": { "code": error.code(), "message": error.to_string() } })
                    .to_string()
            } else {
                format!("error: {error}")
            };
            let _ = writeln!(std::io::stderr(), "{message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, wechat: WechatServer) -> Result<String, CliError> {
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(CliError::Runtime)
    };
    match command {
        Command::Serve { desk, args } => runtime()?.block_on(commands::serve::serve(&desk, args)),
        Command::Orders { desk, command } => commands::queue::orders(&desk, command),
        Command::Refunds { desk, command } => {
            runtime()?.block_on(commands::queue::refunds(&desk, command))
        }
        Command::Doctor { desk } => runtime()?.block_on(commands::doctor::doctor(&desk)),
        Command::Setup { desk, args } => {
            runtime()?.block_on(commands::doctor::setup(&desk, args, wechat))
        }
        Command::Relay { desk, command } => {
            runtime()?.block_on(commands::relay::relay(&desk, command, wechat))
        }
        Command::Sign(args) => commands::sign::sign(args),
        Command::Verify(args) => commands::sign::verify(args),
        Command::DecryptRefundNotify(args) => commands::decrypt::decrypt(args),
        Command::Sim(args) => commands::sim::sim(args),
    }
}

/// The developer switch: with `MERCHANT_DESK_DEV_WECHAT` set to a test server's address (and
/// `MERCHANT_DESK_DEV_WECHAT_CA` to its CA), `setup` saves a merchant at that server and the
/// desk accepts one; announced on standard error. Never for a shop.
fn developer_switch() -> WechatServer {
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    let Some(base) = var(desk_runtime::DEV_WECHAT_ENV) else {
        return WechatServer::default();
    };
    desk_runtime::allow_test_servers(&format!("{}={base}", desk_runtime::DEV_WECHAT_ENV));
    WechatServer {
        api_base: Some(base),
        extra_ca: var(desk_runtime::DEV_WECHAT_CA_ENV)
            .map(|ca| std::path::absolute(&ca).unwrap_or_else(|_| ca.into())),
    }
}

fn write_stdout(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(CliError::Output)
}
