//! One module per subcommand; each returns the text to print or a [`CliError`].

pub mod decrypt;
pub mod desk;
pub mod doctor;
pub mod findings;
pub mod queue;
pub mod relay;
pub mod serve;
pub mod sign;
pub mod sim;

use std::io::Read;

/// What went wrong, worded for the person at the terminal.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("parameter {0:?} is not of the form name=value")]
    NotKeyValue(String),
    #[error("parameter {0:?} is given twice")]
    DuplicateParameter(String),
    #[error("no parameters to sign: pass them as name=value")]
    NoParameters,
    #[error("--sign-type is {flag} but the parameters say sign_type={param}; they must agree")]
    SignTypeConflict { flag: String, param: String },
    #[error("{0}")]
    Key(#[from] wxpay::ApiKeyError),
    #[error("{0}")]
    Protocol(#[from] wxpay::Error),
    #[error("the input is not a v2 message: {0}")]
    Xml(#[from] wxpay::XmlError),
    #[error("{0}")]
    Decrypt(#[from] wxpay::DecryptError),
    #[error("the XML has no req_info field: is it a refund notification?")]
    NoReqInfo,
    #[error("standard input is empty: pipe the message in, e.g. `... < notify.xml`")]
    EmptyInput,
    #[error("standard input is larger than {0} bytes")]
    InputTooLarge(usize),
    #[error("cannot read standard input: {0}")]
    Input(#[source] std::io::Error),
    #[error("cannot write the result: {0}")]
    Output(#[source] std::io::Error),
    #[error("{0} must be a non-negative number of seconds")]
    NotSeconds(String),
    #[error("the simulator could not start: {0}")]
    Sim(#[from] wxpay_sim::SimError),
    #[error("{0}")]
    Runtime(#[source] std::io::Error),
    #[error("{0}")]
    Argument(String),
    #[error(
        "no desk in {0}: start it once (`merchant-desk-cli serve`, or the app), or pass the right --data-dir"
    )]
    NoDesk(std::path::PathBuf),
    #[error("{0}")]
    Desk(#[from] desk_runtime::RuntimeError),
    #[error("{0}")]
    Core(#[from] desk_core::CoreError),
    /// The desk has an owner PIN and it was not given (or was wrong).
    #[error(
        "{0}: this desk has an owner PIN; put it in the MERCHANT_DESK_PIN environment variable"
    )]
    Access(#[from] desk_runtime::AccessError),
    #[error("{0}")]
    Approval(desk_runtime::ApprovalError),
    /// `doctor` found a problem; the text is the full report.
    #[error("{0}")]
    ChecksFailed(String),
}

impl CliError {
    /// A stable code for `--json` callers.
    pub fn code(&self) -> &'static str {
        match self {
            CliError::Core(error) => error.code().as_str(),
            CliError::Access(error) => error.code().as_str(),
            CliError::Approval(error) => error.code().as_str(),
            CliError::Desk(error) => runtime_code(error),
            CliError::NoDesk(_) => "no_desk",
            CliError::ChecksFailed(_) => "checks_failed",
            CliError::Output(_) | CliError::Runtime(_) | CliError::Input(_) => "io",
            CliError::Sim(_) => "simulator",
            CliError::NotKeyValue(_)
            | CliError::DuplicateParameter(_)
            | CliError::NoParameters
            | CliError::SignTypeConflict { .. }
            | CliError::Key(_)
            | CliError::Protocol(_)
            | CliError::Xml(_)
            | CliError::Decrypt(_)
            | CliError::NoReqInfo
            | CliError::EmptyInput
            | CliError::InputTooLarge(_)
            | CliError::NotSeconds(_)
            | CliError::Argument(_) => "invalid_argument",
        }
    }
}

fn runtime_code(error: &desk_runtime::RuntimeError) -> &'static str {
    match error {
        // Said so on a terminal, where a second `serve` is the usual cause.
        desk_runtime::RuntimeError::Lock(_) => "already_running",
        other => other.code().as_str(),
    }
}

impl From<desk_runtime::ApprovalError> for CliError {
    fn from(error: desk_runtime::ApprovalError) -> Self {
        match error {
            // Worded with where the PIN goes.
            desk_runtime::ApprovalError::Access(access) => CliError::Access(access),
            other => CliError::Approval(other),
        }
    }
}

/// Reads at most one message's worth of standard input.
pub(crate) fn read_stdin() -> Result<Vec<u8>, CliError> {
    let limit = wxpay::MAX_BODY_BYTES;
    let mut input = Vec::new();
    std::io::stdin()
        .take(limit as u64 + 1)
        .read_to_end(&mut input)
        .map_err(CliError::Input)?;
    if input.len() > limit {
        return Err(CliError::InputTooLarge(limit));
    }
    if input.iter().all(u8::is_ascii_whitespace) {
        return Err(CliError::EmptyInput);
    }
    Ok(input)
}
