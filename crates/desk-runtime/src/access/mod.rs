//! Who may change money or settings, the same at every door (the window, the CLI): the owner
//! PIN, and the staff limit the owner may grant.
//!
//! - No PIN set: everyone is the owner.
//! - With a PIN, the owner is whoever gives it: typed with the action, or (in the window) an
//!   unlock that lasts [`UNLOCK_SECS`] idle.
//! - Everyone else is staff: read-only, except approvals up to `refunds.staff_limit_fen` when
//!   the owner set one (never above the always-ask amount).
//!
//! | action | who |
//! |---|---|
//! | approve a refund | the owner ([`Access::authorize_approval`]; the PIN typed again above the always-ask amount), or staff within the staff limit |
//! | reject, start a manual refund, setup, any setting, the PIN itself | the owner ([`Access::require_owner`]) |
//! | watch orders, the queue, alerts; acknowledge alerts; the window's language | anyone |
//!
//! Wrong PINs are counted on disk across every process (`attempts.rs`); new PINs have six
//! digits or more (`pin.rs`).

mod attempts;
mod pin;

use std::path::Path;
use std::sync::Mutex;

use desk_core::Code;
use serde::{Deserialize, Serialize};
use wxpay::Fen;

pub use attempts::{FREE_ATTEMPTS, MAX_WAIT_SECS, time_to_try, wait_after};
pub use pin::{NEW_PIN_DIGITS, hash_pin, hash_unchecked};

use attempts::Attempts;

/// How long an unlock lasts without use.
pub const UNLOCK_SECS: i64 = 10 * 60;

/// The `[access]` section: the PIN's salted hash, never the PIN.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// `pbkdf2-sha256$ROUNDS$SALT_HEX$HASH_HEX`; no PIN means everyone is the owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    /// Approvals above this many fen ask for the PIN even while unlocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always_ask_above_fen: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error("the owner PIN is needed")]
    Locked,
    #[error("{amount} is above the amount that always needs the owner PIN: enter the PIN")]
    PinForAmount { amount: Fen },
    #[error(
        "{amount} is above what staff may approve ({limit}): the owner approves it with the PIN"
    )]
    AboveStaffLimit { amount: Fen, limit: Fen },
    #[error("wrong PIN")]
    WrongPin,
    #[error("too many wrong PINs: wait {wait_secs} seconds and try again")]
    TooManyAttempts { wait_secs: i64 },
    #[error("a new PIN is 6 to 12 digits")]
    PinFormat,
    /// The wrong-PIN record cannot be read or written: no PIN is checked without it.
    #[error("cannot keep count of PIN attempts ({0}): check the data directory's permissions")]
    Record(String),
    /// A staff desk: approvals, rejections and refunds are made on the owner's desk.
    #[error("this is a staff desk: refunds are approved, rejected and made on the owner's desk")]
    StaffDesk,
}

impl AccessError {
    pub fn code(&self) -> Code {
        match self {
            AccessError::Locked
            | AccessError::PinForAmount { .. }
            | AccessError::AboveStaffLimit { .. }
            | AccessError::StaffDesk => Code::NeedsOwner,
            AccessError::WrongPin => Code::WrongPin,
            AccessError::TooManyAttempts { .. } => Code::PinWait,
            AccessError::PinFormat => Code::InvalidInput,
            AccessError::Record(_) => Code::Storage,
        }
    }
}

/// Who is asking, as the door knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim<'a> {
    /// "I am the owner": with the PIN typed for this action, if any (the window's unlock stands
    /// in for it below the always-ask amount).
    Owner { pin: Option<&'a str> },
    /// Anyone else.
    Staff,
}

/// What a claim was found to be: the owner (no limit), or staff (up to `limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    Owner,
    Staff { limit: Option<Fen> },
}

impl Authority {
    /// The most this approver may approve in one refund.
    pub fn limit(self) -> Option<Fen> {
        match self {
            Authority::Owner => None,
            Authority::Staff { limit } => limit,
        }
    }
}

/// What the window shows: whether a PIN is set, whether the owner is here, what staff may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AccessStatus {
    pub pin_set: bool,
    /// The owner may act (no PIN set, or unlocked).
    pub owner: bool,
    /// Unix seconds when the unlock ends.
    pub unlocked_until: Option<i64>,
    pub always_ask_above_fen: Option<i64>,
    /// Staff may approve refunds up to this many fen without the PIN.
    pub staff_limit_fen: Option<i64>,
    /// The PIN that last opened the desk has fewer digits than new PINs need: change it.
    pub pin_too_short: bool,
    /// Seconds before another PIN is checked (after too many wrong ones).
    pub pin_wait_secs: Option<i64>,
}

/// The desk's door: the PIN's hash and the staff limit from the config, the unlock in memory,
/// wrong PINs on disk.
#[derive(Debug)]
pub struct Access {
    inner: Mutex<Door>,
    attempts: Attempts,
}

#[derive(Debug)]
struct Door {
    config: AccessConfig,
    staff_limit: Option<Fen>,
    unlocked_until: Option<i64>,
    /// A staff desk of a shop with a relay: the queue is the owner's desk's, shown here.
    staff_desk: bool,
}

/// Whether the configuration makes this a staff desk of a shop with a relay.
fn staff_desk(config: &crate::Config) -> bool {
    config
        .relay
        .as_ref()
        .is_some_and(|relay| relay.role == relay_protocol::Role::Staff)
}

impl Access {
    /// The door of the desk in `dir` (its wrong-PIN record lives there).
    pub fn new(config: AccessConfig, staff_limit: Option<i64>, dir: &Path) -> Access {
        Access {
            inner: Mutex::new(Door {
                config,
                staff_limit: staff_limit.map(Fen::new),
                unlocked_until: None,
                staff_desk: false,
            }),
            attempts: Attempts::new(dir.join("pin-attempts.json"), dir.join("pin-attempts.lock")),
        }
    }

    /// Refunds are decided on the owner's desk; a staff desk shows its queue read-only.
    pub fn require_refund_desk(&self) -> Result<(), AccessError> {
        if self.door().staff_desk {
            return Err(AccessError::StaffDesk);
        }
        Ok(())
    }

    /// The door as `config.toml` sets it.
    pub fn of(config: &crate::Config, dir: &crate::DataDir) -> Access {
        let access = Access::new(
            config.access.clone(),
            config.refunds.staff_limit_fen,
            dir.root(),
        );
        access.door().staff_desk = staff_desk(config);
        access
    }

    fn door(&self) -> std::sync::MutexGuard<'_, Door> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn status(&self, now: i64) -> AccessStatus {
        let record = self.attempts.read();
        let door = self.door();
        let unlocked_until = door.unlocked_until.filter(|until| *until > now);
        let pin_set = door.config.pin.is_some();
        AccessStatus {
            pin_set,
            owner: !pin_set || unlocked_until.is_some(),
            unlocked_until,
            always_ask_above_fen: door.config.always_ask_above_fen,
            staff_limit_fen: door.staff_limit.map(Fen::get),
            pin_too_short: pin_set && record.short_pin,
            pin_wait_secs: Some(record.wait_until - now).filter(|wait| pin_set && *wait > 0),
        }
    }

    /// Opens the desk for [`UNLOCK_SECS`] (the window).
    pub fn unlock(&self, pin: &str, now: i64) -> Result<AccessStatus, AccessError> {
        self.check_pin(pin, now)?;
        self.door().unlocked_until = Some(now + UNLOCK_SECS);
        Ok(self.status(now))
    }

    pub fn lock(&self) {
        self.door().unlocked_until = None;
    }

    /// The claim of whoever sits at a window: the owner when they typed the PIN or unlocked
    /// (or no PIN is set), staff otherwise.
    pub fn claim_at_window<'a>(&self, pin: Option<&'a str>, now: i64) -> Claim<'a> {
        if pin.is_some() || self.status(now).owner {
            Claim::Owner { pin }
        } else {
            Claim::Staff
        }
    }

    /// For settings, rejections and setup: the owner. `pin` is the one typed with this action,
    /// if any. Each owner action keeps the unlock going.
    pub fn require_owner(&self, pin: Option<&str>, now: i64) -> Result<(), AccessError> {
        if let Some(pin) = pin {
            self.check_pin(pin, now)?;
        }
        let mut door = self.door();
        if door.config.pin.is_none() {
            return Ok(());
        }
        if pin.is_some() || door.unlocked_until.is_some_and(|until| until > now) {
            door.unlocked_until = Some(now + UNLOCK_SECS);
            return Ok(());
        }
        Err(AccessError::Locked)
    }

    /// For an approval of `amount`: an owner who proves it (and types the PIN above the
    /// always-ask amount), or staff within the staff limit.
    pub fn authorize_approval(
        &self,
        amount: Fen,
        claim: Claim<'_>,
        now: i64,
    ) -> Result<Authority, AccessError> {
        self.require_refund_desk()?;
        match claim {
            Claim::Owner { pin } => {
                if pin.is_none() && self.always_asks(amount) {
                    return Err(AccessError::PinForAmount { amount });
                }
                self.require_owner(pin, now)?;
                Ok(Authority::Owner)
            }
            Claim::Staff => {
                let authority = self.staff()?;
                if let Some(limit) = authority.limit().filter(|limit| amount > *limit) {
                    return Err(AccessError::AboveStaffLimit { amount, limit });
                }
                Ok(authority)
            }
        }
    }

    /// For a batch of approvals: the owner's checks are made once, for the largest; staff get
    /// their limit, which the store applies to each refund.
    pub fn authorize_batch(
        &self,
        largest: Fen,
        claim: Claim<'_>,
        now: i64,
    ) -> Result<Authority, AccessError> {
        self.require_refund_desk()?;
        match claim {
            Claim::Owner { .. } => self.authorize_approval(largest, claim, now),
            Claim::Staff => self.staff(),
        }
    }

    /// What staff may approve: with a PIN set, only what the owner granted (up to the staff
    /// limit, and never above the always-ask amount); without one, the staff limit if any.
    fn staff(&self) -> Result<Authority, AccessError> {
        let door = self.door();
        if door.config.pin.is_none() {
            return Ok(Authority::Staff {
                limit: door.staff_limit,
            });
        }
        let granted = door.staff_limit.ok_or(AccessError::Locked)?;
        let always_ask = door.config.always_ask_above_fen.map(Fen::new);
        Ok(Authority::Staff {
            limit: Some(always_ask.map_or(granted, |above| granted.min(above))),
        })
    }

    fn always_asks(&self, amount: Fen) -> bool {
        let door = self.door();
        door.config.pin.is_some()
            && door
                .config
                .always_ask_above_fen
                .is_some_and(|above| amount.get() > above)
    }

    /// The configuration with the PIN set, changed or (with `new = None`) removed; the current
    /// PIN is needed when one is set. Nothing changes until [`Access::apply`], which the caller
    /// runs once the configuration is saved, so memory and `config.toml` never disagree.
    pub fn pin_change(
        &self,
        current: Option<&str>,
        new: Option<&str>,
        now: i64,
    ) -> Result<AccessConfig, AccessError> {
        let pin = new.map(hash_pin).transpose()?;
        if self.door().config.pin.is_some() {
            self.check_pin(current.ok_or(AccessError::WrongPin)?, now)?;
        }
        Ok(AccessConfig {
            pin,
            ..self.door().config.clone()
        })
    }

    /// The configuration with approvals above `above` asking for the PIN (owner only); applied
    /// like [`Access::pin_change`].
    pub fn always_ask_change(
        &self,
        above: Option<Fen>,
        now: i64,
    ) -> Result<AccessConfig, AccessError> {
        self.require_owner(None, now)?;
        Ok(AccessConfig {
            always_ask_above_fen: above.map(Fen::get),
            ..self.door().config.clone()
        })
    }

    /// Takes a saved configuration. A new PIN starts unlocked: its owner has just typed it.
    pub fn apply(&self, config: &crate::Config, now: i64) -> Result<(), AccessError> {
        let changed = {
            let mut door = self.door();
            let changed = config.access.pin != door.config.pin;
            if changed {
                door.unlocked_until = config.access.pin.as_ref().map(|_| now + UNLOCK_SECS);
            }
            door.config = config.access.clone();
            door.staff_limit = config.refunds.staff_limit_fen.map(Fen::new);
            door.staff_desk = staff_desk(config);
            changed
        };
        if changed {
            self.attempts.forget_pin()?;
        }
        Ok(())
    }

    fn check_pin(&self, pin: &str, now: i64) -> Result<(), AccessError> {
        let Some(stored) = self.door().config.pin.clone() else {
            return Ok(());
        };
        self.attempts
            .guess(now, pin::is_short(pin), || pin::matches(&stored, pin))
    }
}

#[cfg(test)]
mod tests;
