//! `merchant-desk-cli`: Merchant Desk without a window.
//!
//! The tools of WeChat's online signature checker (`sign`, `verify`), a refund notification
//! decryptor, and the WeChat Pay simulator (`sim`). Later issues add the headless desk.
#![forbid(unsafe_code)]

mod commands;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "merchant-desk-cli",
    version,
    about = "Merchant Desk command-line tools (WeChat Pay API v2)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
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
    let result = match cli.command {
        Command::Sign(args) => commands::sign::sign(args),
        Command::Verify(args) => commands::sign::verify(args),
        Command::DecryptRefundNotify(args) => commands::decrypt::decrypt(args),
        Command::Sim(args) => commands::sim::sim(args),
    };
    match result.and_then(|text| write_stdout(&text)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn write_stdout(text: &str) -> Result<(), commands::CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(commands::CliError::Output)
}
