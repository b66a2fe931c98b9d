//! The approval policy, one call for every door (the window, the CLI): the owner PIN (typed
//! again above the "always ask" amount), the staff limit for anyone approving as staff, then
//! the approval itself with every money guard in the store's one transaction.

use desk_core::{ApprovedRefund, Approver, CoreError, Store};
use wxpay::Fen;

use crate::access::{Access, AccessError};
use crate::config::RefundPolicy;

/// Who approves. The name goes into the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The owner: no staff limit.
    Owner(String),
    /// Staff: up to `refunds.staff_limit_fen`.
    Staff(String),
}

/// One approval as a person asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval<'a> {
    pub request: i64,
    /// Less than asked (fen); `None`: what the customer asked.
    pub amount: Option<Fen>,
    pub role: Role,
    /// The owner PIN typed with this approval, if any.
    pub pin: Option<&'a str>,
}

/// Why an approval was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl ApprovalError {
    pub fn code(&self) -> desk_core::Code {
        match self {
            ApprovalError::Access(error) => error.code(),
            ApprovalError::Core(error) => error.code(),
        }
    }
}

/// One request of a batch approval and what became of it.
pub type Outcome = (i64, Result<ApprovedRefund, CoreError>);

/// Approves one request under the desk's rules.
pub fn approve(
    store: &Store,
    access: &Access,
    policy: &RefundPolicy,
    approval: &Approval<'_>,
    now: i64,
) -> Result<ApprovedRefund, ApprovalError> {
    let amount = match approval.amount {
        Some(amount) => amount,
        None => store.queue_item(approval.request)?.requested_fee,
    };
    access.require_for_amount(amount, approval.pin, now)?;
    Ok(store.approve(
        approval.request,
        approval.amount,
        &approver(&approval.role, policy),
        now,
    )?)
}

/// Approves each request in full; the PIN is checked once, for the largest; one refusal (already
/// decided, over the limit) does not stop the others.
pub fn approve_all(
    store: &Store,
    access: &Access,
    policy: &RefundPolicy,
    requests: &[i64],
    role: &Role,
    pin: Option<&str>,
    now: i64,
) -> Result<Vec<Outcome>, ApprovalError> {
    let largest = requests
        .iter()
        .map(|&id| store.queue_item(id).map(|item| item.requested_fee))
        .try_fold(Fen::ZERO, |max, fee| fee.map(|fee| max.max(fee)))?;
    access.require_for_amount(largest, pin, now)?;
    Ok(store.approve_all(requests, &approver(role, policy), now))
}

fn approver(role: &Role, policy: &RefundPolicy) -> Approver {
    match role {
        Role::Owner(name) => Approver {
            name: name.clone(),
            limit: None,
        },
        Role::Staff(name) => Approver {
            name: name.clone(),
            limit: policy.staff_limit_fen.map(Fen::new),
        },
    }
}
