//! `orders list`, `refunds list | approve | reject | create`: the queue from a terminal.

use std::fmt::Write as _;

use clap::{Args, Subcommand};
use desk_core::{ManualRefund, QueueItem, QueueState, unix_now};
use desk_runtime::{Access, Approval, Claim, Config};
use serde_json::json;
use wxpay::{Fen, OrderRef, OutTradeNo, TransactionId};

use super::CliError;
use super::desk::DeskArgs;

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// Paid orders, newest first.
    List {
        /// Only orders whose number or transaction id starts with this.
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum RefundsCommand {
    /// Refund requests with their refunds, newest first.
    List {
        /// pending, rejected, withdrawn, approved, submitting, processing, succeeded, closed,
        /// needs_manual or failed.
        #[arg(long)]
        state: Option<QueueState>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Approve a pending request: the refund is sent by the running desk.
    Approve {
        /// The request's number (from `refunds list`).
        id: i64,
        /// Refund less than asked (fen); default: the amount asked.
        #[arg(long)]
        amount: Option<i64>,
        /// Who approves (kept in the audit log).
        #[arg(long)]
        by: String,
        /// "I am the owner": no staff limit; the owner PIN goes in MERCHANT_DESK_PIN (when a
        /// PIN is set). Without it the approval is staff's, up to refunds.staff_limit_fen.
        #[arg(long)]
        owner: bool,
    },
    /// Reject a pending request; the reason is shown to the customer.
    Reject {
        id: i64,
        #[arg(long)]
        reason: String,
        /// Who rejects (kept in the audit log); default: your user name.
        #[arg(long)]
        by: Option<String>,
    },
    /// Start a refund for a customer who phoned (the owner's: the PIN in MERCHANT_DESK_PIN when
    /// one is set): the order is checked with WeChat Pay first.
    Create(CreateArgs),
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("order").required(true).args(["out_trade_no", "transaction_id"]))]
pub struct CreateArgs {
    #[arg(long)]
    out_trade_no: Option<String>,
    #[arg(long)]
    transaction_id: Option<String>,
    /// Fen (1 yuan = 100 fen).
    #[arg(long)]
    amount: i64,
    #[arg(long)]
    reason: String,
    #[arg(long)]
    customer: Option<String>,
    /// Approve it at once, as this person (otherwise it waits in the queue as pending).
    #[arg(long)]
    approve_by: Option<String>,
    /// With --approve-by: "I am the owner" (the PIN in MERCHANT_DESK_PIN), as for `approve`.
    #[arg(long, requires = "approve_by")]
    owner: bool,
}

pub fn orders(desk: &DeskArgs, command: OrdersCommand) -> Result<String, CliError> {
    let OrdersCommand::List { search, limit } = command;
    let store = desk.existing_store()?;
    let orders = store.orders(search.as_deref(), limit)?;
    desk.render(&orders, |orders| {
        if orders.is_empty() {
            return "no paid orders".to_owned();
        }
        let mut text = String::new();
        for order in orders {
            let _ = writeln!(
                text,
                "{}  {}  paid {}  refundable {}  ({} refunds)  {}",
                wxpay::china_time::to_minute(order.paid_at),
                order.out_trade_no,
                order.total_fee.to_yuan_display(),
                order.refundable.to_yuan_display(),
                order.refund_count,
                order.transaction_id
            );
        }
        text.trim_end().to_owned()
    })
}

pub async fn refunds(desk: &DeskArgs, command: RefundsCommand) -> Result<String, CliError> {
    match command {
        RefundsCommand::List { state, limit } => {
            let items = desk.existing_store()?.queue(state, limit)?;
            desk.render(&items, |items| {
                if items.is_empty() {
                    return "no refund requests".to_owned();
                }
                items.iter().map(describe).collect::<Vec<_>>().join("\n")
            })
        }
        RefundsCommand::Approve {
            id,
            amount,
            by,
            owner,
        } => {
            let name = non_empty(by, "--by")?;
            let store = desk.existing_store()?;
            let access = owner_access(desk)?;
            let pin = pin_from_env();
            let approval = Approval {
                request: id,
                amount: amount.map(Fen::new),
                by: name.clone(),
                claim: claim(owner, pin.as_deref()),
            };
            let approved = desk_runtime::approve(&store, &access, &approval, unix_now())?;
            warn_if_short(&access);
            desk.render(&approved, |a| {
                format!(
                    "approved request #{id}: refund {} of {} as {name}; the running desk sends it",
                    a.out_refund_no,
                    a.refund_fee.to_yuan_display()
                )
            })
        }
        RefundsCommand::Reject { id, reason, by } => {
            let access = owner_access(desk)?;
            access.require_refund_desk()?;
            access.require_owner(pin_from_env().as_deref(), unix_now())?;
            warn_if_short(&access);
            let store = desk.existing_store()?;
            let by = match by {
                Some(by) => non_empty(by, "--by")?,
                None => user_name(),
            };
            store.reject(id, &reason, &by, unix_now())?;
            let item = store.queue_item(id)?;
            desk.render(&item, |_| format!("rejected request #{id}: {reason}"))
        }
        RefundsCommand::Create(args) => create(desk, args).await,
    }
}

async fn create(desk: &DeskArgs, args: CreateArgs) -> Result<String, CliError> {
    let order = match (args.out_trade_no, args.transaction_id) {
        (Some(no), None) => OrderRef::OutTradeNo(
            OutTradeNo::new(no).map_err(|e| CliError::Argument(format!("--out-trade-no: {e}")))?,
        ),
        (None, Some(id)) => OrderRef::TransactionId(
            TransactionId::new(id)
                .map_err(|e| CliError::Argument(format!("--transaction-id: {e}")))?,
        ),
        _ => {
            return Err(CliError::Argument(
                "give exactly one of --out-trade-no and --transaction-id".into(),
            ));
        }
    };
    if args.amount <= 0 {
        return Err(CliError::Argument(
            "--amount must be a positive number of fen (1 yuan = 100 fen)".into(),
        ));
    }
    let approve_by = args
        .approve_by
        .map(|name| non_empty(name, "--approve-by"))
        .transpose()?;
    let store = std::sync::Arc::new(desk.existing_store()?);
    let config = config(desk)?;
    let client = desk_runtime::command_client(&desk.dir()?, &config, std::time::SystemTime::now())?;
    let manual = ManualRefund {
        order,
        amount: Fen::new(args.amount),
        reason: args.reason,
        customer: args.customer,
    };
    let pin = pin_from_env();
    let access = owner_access(desk)?;
    // A refund nobody asked for through the mini-program is the owner's to start, as in the
    // window.
    access.require_refund_desk()?;
    access.require_owner(pin.as_deref(), unix_now())?;
    warn_if_short(&access);
    let claim = claim(args.owner, pin.as_deref());
    if approve_by.is_some() {
        // Checked before anything is created: a refused approval leaves no request behind.
        access.authorize_approval(manual.amount, claim, unix_now())?;
    }
    let request = desk_core::create_manual_request(&store, &client, manual, unix_now()).await?;
    let approved = match approve_by {
        Some(name) => {
            let approval = Approval {
                request,
                amount: None,
                by: name,
                claim,
            };
            Some(desk_runtime::approve(
                &store,
                &access,
                &approval,
                unix_now(),
            )?)
        }
        None => None,
    };
    let value = json!({ "request": request, "approved": approved });
    desk.render(&value, |_| match &approved {
        Some(a) => format!(
            "request #{request} created and approved: refund {} of {}",
            a.out_refund_no,
            a.refund_fee.to_yuan_display()
        ),
        None => format!(
            "request #{request} created (pending): approve it with `refunds approve {request} --by NAME`"
        ),
    })
}

fn describe(item: &QueueItem) -> String {
    let mut line = format!(
        "#{:<5} {:<12} {:>10}  order {}  {}  \"{}\"",
        item.request,
        item.state.as_str(),
        (item
            .refund
            .as_ref()
            .map_or(item.requested_fee, |r| r.refund_fee))
        .to_yuan_display(),
        item.out_trade_no,
        wxpay::china_time::to_minute(item.created_at),
        item.reason
    );
    if let Some(customer) = &item.customer {
        let _ = write!(line, "  customer {customer}");
    }
    if let Some(refund) = &item.refund {
        let _ = write!(line, "  refund {}", refund.out_refund_no);
        if let Some(problem) = refund.problem {
            let _ = write!(line, "  ({})", problem.describe());
        }
        if let Some(detail) = &refund.wechat_detail {
            let _ = write!(line, "  [WeChat: {detail}]");
        }
        if refund.contradicted {
            let _ = write!(line, "  (WeChat paid it after the desk had it as failed)");
        }
    }
    if let Some(reason) = &item.reject_reason {
        let _ = write!(line, "  rejected: {reason}");
    }
    line
}

fn config(desk: &DeskArgs) -> Result<Config, CliError> {
    Ok(Config::load(&desk.dir()?.config())
        .map_err(desk_runtime::RuntimeError::from)?
        .unwrap_or_default())
}

/// The desk's door, as the app has it (wrong PINs counted in the same record). A terminal has no
/// unlock that lasts: when a PIN is set, every owner action gives it (`MERCHANT_DESK_PIN`, not a
/// flag, so it stays out of the shell's history and the process list).
pub(crate) fn owner_access(desk: &DeskArgs) -> Result<Access, CliError> {
    let dir = desk.dir()?;
    Ok(Access::of(&config(desk)?, &dir))
}

/// `--owner` claims the owner's authority with the PIN from the environment; without it the
/// approval is staff's.
fn claim(owner: bool, pin: Option<&str>) -> Claim<'_> {
    if owner {
        Claim::Owner { pin }
    } else {
        Claim::Staff
    }
}

/// A PIN of fewer digits than new PINs need opened the desk: said on standard error.
pub(crate) fn warn_if_short(access: &Access) {
    if access.status(unix_now()).pin_too_short {
        eprintln!(
            "warning: the owner PIN has fewer than 6 digits, which can be guessed: set a new one in the app (设置 → 店主密码)"
        );
    }
}

pub(crate) fn pin_from_env() -> Option<String> {
    std::env::var("MERCHANT_DESK_PIN")
        .ok()
        .filter(|pin| !pin.is_empty())
}

fn non_empty(name: String, flag: &str) -> Result<String, CliError> {
    if name.trim().is_empty() {
        return Err(CliError::Argument(format!("{flag} needs a name")));
    }
    Ok(name.trim().to_owned())
}

fn user_name() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "owner".to_owned())
}
