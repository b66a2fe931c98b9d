//! The owner PIN as stored: a salted PBKDF2 hash in `config.toml`, never the PIN.

use hmac::Hmac;
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::AccessError;

/// PBKDF2-HMAC-SHA256 rounds: slow enough to make guessing a PIN from a stolen config file
/// expensive, fast enough (~50 ms here) not to annoy at the counter.
const ROUNDS: u32 = 60_000;
/// Digits of a new PIN. Four digits are 10,000 guesses; six are 1,000,000, which the growing
/// waits between wrong guesses (`attempts.rs`) stretch to years.
pub const NEW_PIN_DIGITS: std::ops::RangeInclusive<usize> = 6..=12;
/// PINs set before six digits were asked for still open the desk, which asks for a new one.
const OLD_PIN_DIGITS: std::ops::RangeInclusive<usize> = 4..=12;

/// Hashes a new PIN for `[access] pin`.
pub fn hash_pin(pin: &str) -> Result<String, AccessError> {
    if !(NEW_PIN_DIGITS.contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())) {
        return Err(AccessError::PinFormat);
    }
    Ok(hash_unchecked(pin))
}

/// A stored hash of any PIN: for tests of PINs set under older rules.
#[doc(hidden)]
pub fn hash_unchecked(pin: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let hash = derive(pin, &salt, ROUNDS);
    format!(
        "pbkdf2-sha256${ROUNDS}${}${}",
        hex::encode(salt),
        hex::encode(hash)
    )
}

/// Whether a PIN that opened the desk is shorter than new PINs must be.
pub fn is_short(pin: &str) -> bool {
    pin.len() < *NEW_PIN_DIGITS.start()
}

fn derive(pin: &str, salt: &[u8], rounds: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2::<Hmac<Sha256>>(pin.as_bytes(), salt, rounds, &mut out)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    out
}

/// Compares in constant time; a malformed stored hash, or a PIN no rule ever allowed, never
/// matches.
pub fn matches(stored: &str, pin: &str) -> bool {
    if !(OLD_PIN_DIGITS.contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_stored_form_is_salted_and_never_the_pin() {
        let a = hash_pin("246813").unwrap();
        let b = hash_pin("246813").unwrap();
        assert_ne!(a, b, "each hash has its own salt");
        assert!(!a.contains("246813"));
        assert!(matches(&a, "246813") && !matches(&a, "246814"));
        assert!(!matches("pbkdf2-sha256$1$zz$00", "246813"));
    }

    #[test]
    fn pins_stored_by_earlier_versions_still_match() {
        // PBKDF2-HMAC-SHA256 ("password", "salt", 1 round; RFC 7914 §11): the crate generation
        // the hash is computed with may change, the stored form may not.
        assert_eq!(
            hex::encode(derive("password", b"salt", 1)),
            "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"
        );
        // A stored PIN computed independently (Python's hashlib), as any version wrote it.
        let stored = "pbkdf2-sha256$1000$000102030405060708090a0b0c0d0e0f$022c01f35c5cb03cc614589c007cf43d67629ac084ab884fc447dfc3d2867e39";
        assert!(matches(stored, "246813") && !matches(stored, "246814"));
    }

    #[test]
    fn new_pins_have_six_digits_or_more_and_old_short_ones_still_match() {
        assert_eq!(hash_pin("2468"), Err(AccessError::PinFormat));
        assert_eq!(hash_pin("24681"), Err(AccessError::PinFormat));
        assert_eq!(hash_pin("12a456"), Err(AccessError::PinFormat));
        assert_eq!(hash_pin("1234567890123"), Err(AccessError::PinFormat));
        hash_pin("123456").unwrap();
        let old = hash_unchecked("2468");
        assert!(matches(&old, "2468"));
        assert!(is_short("2468") && !is_short("246813"));
    }
}
