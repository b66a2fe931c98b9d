//! Who may approve: the owner PIN. Staff without it see alerts and the queue read-only; the
//! owner unlocks the desk for a while, and above an optional amount the PIN is asked again for
//! every approval. The rules live here, not in the window, so no page can skip them.

use std::sync::Mutex;

use desk_core::Code;
use hmac::Hmac;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use wxpay::Fen;

/// PBKDF2-HMAC-SHA256 rounds: slow enough to make guessing a 4–8 digit PIN from a stolen
/// config file expensive, fast enough (~50 ms here) not to annoy at the counter.
const ROUNDS: u32 = 60_000;
/// How long an unlock lasts without use.
pub const UNLOCK_SECS: i64 = 10 * 60;
/// Wrong PINs in a row before the desk makes the next guess wait.
const FREE_ATTEMPTS: u32 = 5;
const LOCKOUT_SECS: i64 = 30;

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
    #[error("the owner PIN is needed: unlock with the PIN first")]
    Locked,
    #[error("{amount} is above the amount that always needs the owner PIN: enter the PIN")]
    PinForAmount { amount: Fen },
    #[error("wrong PIN")]
    WrongPin,
    #[error("too many wrong PINs: wait {0} seconds and try again")]
    TooManyAttempts(i64),
    #[error("a PIN is 4 to 12 digits")]
    PinFormat,
}

impl AccessError {
    pub fn code(&self) -> Code {
        match self {
            AccessError::Locked | AccessError::PinForAmount { .. } => Code::NeedsOwner,
            AccessError::WrongPin | AccessError::TooManyAttempts(_) => Code::WrongPin,
            AccessError::PinFormat => Code::InvalidInput,
        }
    }
}

/// Hashes a new PIN for `[access] pin`.
pub fn hash_pin(pin: &str) -> Result<String, AccessError> {
    check_format(pin)?;
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let hash = derive(pin, &salt, ROUNDS);
    Ok(format!(
        "pbkdf2-sha256${ROUNDS}${}${}",
        hex::encode(salt),
        hex::encode(hash)
    ))
}

fn check_format(pin: &str) -> Result<(), AccessError> {
    if (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(AccessError::PinFormat)
    }
}

fn derive(pin: &str, salt: &[u8], rounds: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2::<Hmac<Sha256>>(pin.as_bytes(), salt, rounds, &mut out)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    out
}

/// Compares in constant time; a malformed stored hash never matches.
fn matches(stored: &str, pin: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(rounds), Some(salt), Some(hash), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let (Ok(rounds), Ok(salt), Ok(hash)) = (rounds.parse(), hex::decode(salt), hex::decode(hash))
    else {
        return false;
    };
    derive(pin, &salt, rounds).ct_eq(hash.as_slice()).into()
}

/// What the window shows: whether a PIN is set and whether the owner is here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AccessStatus {
    pub pin_set: bool,
    /// The owner may act (no PIN set, or unlocked).
    pub owner: bool,
    /// Unix seconds when the unlock ends.
    pub unlocked_until: Option<i64>,
    pub always_ask_above_fen: Option<i64>,
}

/// The running desk's door: the PIN's hash and the unlock, in memory.
#[derive(Debug)]
pub struct Access {
    inner: Mutex<Door>,
}

#[derive(Debug)]
struct Door {
    config: AccessConfig,
    unlocked_until: Option<i64>,
    wrong_in_a_row: u32,
    wait_until: i64,
}

impl Access {
    pub fn new(config: AccessConfig) -> Access {
        Access {
            inner: Mutex::new(Door {
                config,
                unlocked_until: None,
                wrong_in_a_row: 0,
                wait_until: 0,
            }),
        }
    }

    fn door(&self) -> std::sync::MutexGuard<'_, Door> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn status(&self, now: i64) -> AccessStatus {
        let door = self.door();
        let unlocked_until = door.unlocked_until.filter(|until| *until > now);
        AccessStatus {
            pin_set: door.config.pin.is_some(),
            owner: door.config.pin.is_none() || unlocked_until.is_some(),
            unlocked_until,
            always_ask_above_fen: door.config.always_ask_above_fen,
        }
    }

    /// Opens the desk for [`UNLOCK_SECS`].
    pub fn unlock(&self, pin: &str, now: i64) -> Result<AccessStatus, AccessError> {
        self.check_pin(pin, now)?;
        self.door().unlocked_until = Some(now + UNLOCK_SECS);
        Ok(self.status(now))
    }

    pub fn lock(&self) {
        self.door().unlocked_until = None;
    }

    /// For approving, rejecting and settings. `pin` is the one typed with this action, if any.
    /// Each owner action keeps the unlock going.
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

    /// For an approval of `amount`: the owner, and the PIN typed again above the set amount.
    pub fn require_for_amount(
        &self,
        amount: Fen,
        pin: Option<&str>,
        now: i64,
    ) -> Result<(), AccessError> {
        let always_ask = {
            let door = self.door();
            door.config.pin.is_some()
                && door
                    .config
                    .always_ask_above_fen
                    .is_some_and(|above| amount.get() > above)
        };
        if always_ask && pin.is_none() {
            return Err(AccessError::PinForAmount { amount });
        }
        self.require_owner(pin, now)
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
        if self.door().config.pin.is_some() {
            self.check_pin(current.ok_or(AccessError::WrongPin)?, now)?;
        }
        let pin = new.map(hash_pin).transpose()?;
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
    pub fn apply(&self, config: AccessConfig, now: i64) {
        let mut door = self.door();
        if config.pin != door.config.pin {
            door.unlocked_until = config.pin.as_ref().map(|_| now + UNLOCK_SECS);
        }
        door.config = config;
    }

    fn check_pin(&self, pin: &str, now: i64) -> Result<(), AccessError> {
        let mut door = self.door();
        if door.wait_until > now {
            return Err(AccessError::TooManyAttempts(door.wait_until - now));
        }
        let Some(stored) = door.config.pin.clone() else {
            return Ok(());
        };
        if matches(&stored, pin) {
            door.wrong_in_a_row = 0;
            return Ok(());
        }
        door.wrong_in_a_row += 1;
        if door.wrong_in_a_row >= FREE_ATTEMPTS {
            door.wait_until = now + LOCKOUT_SECS;
        }
        Err(AccessError::WrongPin)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn with_pin(pin: &str, above: Option<i64>) -> Access {
        Access::new(AccessConfig {
            pin: Some(hash_pin(pin).unwrap()),
            always_ask_above_fen: above,
        })
    }

    #[test]
    fn without_a_pin_everyone_is_the_owner() {
        let access = Access::new(AccessConfig::default());
        assert!(access.status(0).owner);
        access.require_owner(None, 0).unwrap();
        access
            .require_for_amount(Fen::new(1_000_000), None, 0)
            .unwrap();
    }

    #[test]
    fn a_pin_locks_until_unlocked_and_the_unlock_expires() {
        let access = with_pin("2468", None);
        assert_eq!(access.require_owner(None, 0), Err(AccessError::Locked));
        assert_eq!(access.unlock("1111", 0), Err(AccessError::WrongPin));
        let status = access.unlock("2468", 100).unwrap();
        assert!(status.owner);
        assert_eq!(status.unlocked_until, Some(100 + UNLOCK_SECS));
        access.require_owner(None, 200).unwrap();
        // Use keeps it open; idleness closes it.
        assert!(access.status(200 + UNLOCK_SECS - 1).owner);
        assert!(!access.status(200 + UNLOCK_SECS).owner);
        access.lock();
        assert_eq!(access.require_owner(None, 201), Err(AccessError::Locked));
    }

    #[test]
    fn large_amounts_ask_for_the_pin_even_when_unlocked() {
        let access = with_pin("2468", Some(50_000));
        access.unlock("2468", 0).unwrap();
        access
            .require_for_amount(Fen::new(50_000), None, 1)
            .unwrap();
        assert_eq!(
            access.require_for_amount(Fen::new(50_001), None, 1),
            Err(AccessError::PinForAmount {
                amount: Fen::new(50_001)
            })
        );
        assert_eq!(
            access.require_for_amount(Fen::new(50_001), Some("1357"), 1),
            Err(AccessError::WrongPin)
        );
        access
            .require_for_amount(Fen::new(50_001), Some("2468"), 1)
            .unwrap();
    }

    #[test]
    fn guessing_is_slowed_after_five_wrong_pins() {
        let access = with_pin("2468", None);
        for _ in 0..5 {
            assert_eq!(access.unlock("0000", 10), Err(AccessError::WrongPin));
        }
        // Even the right PIN waits now.
        assert_eq!(
            access.unlock("2468", 11),
            Err(AccessError::TooManyAttempts(29))
        );
        access.unlock("2468", 10 + LOCKOUT_SECS).unwrap();
    }

    #[test]
    fn the_stored_form_is_salted_and_never_the_pin() {
        let a = hash_pin("2468").unwrap();
        let b = hash_pin("2468").unwrap();
        assert_ne!(a, b, "each hash has its own salt");
        assert!(!a.contains("2468"));
        assert!(matches(&a, "2468") && !matches(&a, "2469"));
        assert!(!matches("pbkdf2-sha256$1$zz$00", "2468"));
        assert_eq!(hash_pin("12a4"), Err(AccessError::PinFormat));
        assert_eq!(hash_pin("123"), Err(AccessError::PinFormat));
    }

    #[test]
    fn changing_the_pin_needs_the_current_one_and_takes_effect_when_applied() {
        let access = with_pin("2468", Some(500));
        assert_eq!(
            access.pin_change(Some("0000"), Some("1357"), 0),
            Err(AccessError::WrongPin)
        );
        let config = access.pin_change(Some("2468"), Some("1357"), 0).unwrap();
        assert!(matches(config.pin.as_deref().unwrap(), "1357"));
        assert_eq!(config.always_ask_above_fen, Some(500));
        // Not yet applied: the old PIN still opens the door.
        access.unlock("2468", 1).unwrap();
        access.lock();
        access.apply(config, 2);
        assert!(
            access.status(2).owner,
            "whoever set the PIN stays the owner"
        );
        assert_eq!(access.unlock("2468", 3), Err(AccessError::WrongPin));
        access.unlock("1357", 3).unwrap();
        let removed = access.pin_change(Some("1357"), None, 4).unwrap();
        access.apply(removed, 4);
        assert_eq!(access.status(4).unlocked_until, None);
        assert!(access.status(4).owner);
    }

    #[test]
    fn the_always_ask_amount_is_the_owners_to_change() {
        let access = with_pin("2468", None);
        assert_eq!(
            access.always_ask_change(Some(Fen::new(1_000)), 0),
            Err(AccessError::Locked)
        );
        access.unlock("2468", 0).unwrap();
        let config = access.always_ask_change(Some(Fen::new(1_000)), 1).unwrap();
        access.apply(config, 1);
        let status = access.status(1);
        assert_eq!(status.always_ask_above_fen, Some(1_000));
        assert!(status.owner, "the same PIN keeps the unlock");
    }
}
