//! Why a desk's pairing with the relay was refused, before anything was saved
//! (`crate::relay::pair`).

use relay_protocol::{Role, bundle};

/// Why a pairing was refused. Nothing was saved.
#[derive(Debug, thiserror::Error)]
pub enum PairingRefusal {
    #[error(transparent)]
    BadCode(#[from] relay_protocol::BadCode),
    /// A staff code typed on a desk set up with the merchant's own certificate and key: the
    /// staff desk's merchant would replace them (and a relay that made the owner's code could
    /// use exactly this to take the desk over).
    #[error(
        "this desk is set up with merchant {mch_id}'s own key and certificate, and the code typed is a staff desk's: pairing would replace them, so nothing was changed. Pair a staff desk on another computer, or in a data folder of its own (--data-dir); the owner's desk needs a code that starts with 0-9 or A-F"
    )]
    StaffCodeOnMerchantDesk { mch_id: String },
    /// The relay answered another role than the code the person typed says.
    #[error(
        "the code typed makes {} desk, but the relay answered that it made {} desk: nothing was saved. The relay is misconfigured or not the shop's own: ask whoever runs it, and do not use it meanwhile",
        role_words(*typed),
        role_words(*answered)
    )]
    RelayContradictsCode { typed: Role, answered: Role },
    #[error(
        "a staff desk pairs with a code from the owner's desk (`relay invite`), not from the relay's operator"
    )]
    NoBundle,
    #[error(transparent)]
    Bundle(#[from] bundle::OpenError),
    #[error("the owner's desk sent a merchant this desk cannot read ({0}): update this desk")]
    UnreadableMerchant(String),
    /// An owner's code handed over by a desk of another merchant than this one's.
    #[error(
        "this desk is set up for merchant {here}, and the owner's desk handing over is merchant {handed}'s: nothing was changed"
    )]
    OtherMerchant { here: String, handed: String },
}

fn role_words(role: Role) -> &'static str {
    match role {
        Role::Owner => "the owner's",
        Role::Staff => "a staff",
    }
}
