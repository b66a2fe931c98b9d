//! The approval policy, one call for every door (the window, the CLI): who may approve how much
//! (`access`: the owner with the PIN, staff within the limit the owner granted), then the
//! approval itself with every money guard in the store's one transaction, the approver's limit
//! among them.

use desk_core::{ApprovedRefund, Approver, CoreError, Store};
use wxpay::Fen;

use crate::access::{Access, AccessError, Authority, Claim};

/// One approval as a person asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval<'a> {
    pub request: i64,
    /// Less than asked (fen); `None`: what the customer asked.
    pub amount: Option<Fen>,
    /// Who approves, for the audit log.
    pub by: String,
    /// Owner (with the PIN) or staff.
    pub claim: Claim<'a>,
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
    approval: &Approval<'_>,
    now: i64,
) -> Result<ApprovedRefund, ApprovalError> {
    let amount = match approval.amount {
        Some(amount) => amount,
        None => store.queue_item(approval.request)?.requested_fee,
    };
    let authority = access.authorize_approval(amount, approval.claim, now)?;
    Ok(store.approve(
        approval.request,
        approval.amount,
        &approver(&approval.by, authority),
        now,
    )?)
}

/// Approves each request in full; the owner's PIN is checked once, for the largest, and staff's
/// limit applies to each; one refusal (already decided, over the limit) does not stop the
/// others.
pub fn approve_all(
    store: &Store,
    access: &Access,
    requests: &[i64],
    by: &str,
    claim: Claim<'_>,
    now: i64,
) -> Result<Vec<Outcome>, ApprovalError> {
    let largest = requests
        .iter()
        .map(|&id| store.queue_item(id).map(|item| item.requested_fee))
        .try_fold(Fen::ZERO, |max, fee| fee.map(|fee| max.max(fee)))?;
    let authority = access.authorize_batch(largest, claim, now)?;
    Ok(store.approve_all(requests, &approver(by, authority), now))
}

fn approver(by: &str, authority: Authority) -> Approver {
    Approver {
        name: by.to_owned(),
        limit: authority.limit(),
    }
}
