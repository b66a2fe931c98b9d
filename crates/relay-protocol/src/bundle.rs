//! What the owner's desk hands a new staff desk through the relay, sealed so the relay cannot
//! read it: the merchant's ids and API key (a staff desk verifies WeChat's signatures itself,
//! so a compromised relay cannot make it announce a forged payment) and the shop key that signs
//! the owner's queue updates.
//!
//! Sealed with AES-256-GCM under a key stretched (PBKDF2-SHA256) from the pairing code's secret
//! half, which only the two desks ever see: the relay holds the claim half and the sealed bytes.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::Hmac;
use rand::RngExt as _;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::token::PairingCode;

/// The secret part has 60 bits; every guess costs this many rounds on top.
const ROUNDS: u32 = 200_000;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    pub appid: String,
    pub mch_id: String,
    /// `MD5` or `HMAC-SHA256`, as the merchant signs.
    pub sign_type: String,
    pub api_key: String,
    pub shop_key: String,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("appid", &self.appid)
            .field("mch_id", &self.mch_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Typed wrong (the claim half matched, so only the second half can be), or tampered with.
    #[error(
        "the pairing code's last twelve characters do not open what the owner's desk left: check them, or ask for a new code"
    )]
    WrongCode,
    #[error("what the owner's desk left is not readable by this desk: update it")]
    Unreadable,
}

fn key(code: &PairingCode) -> [u8; 32] {
    let mut key = [0u8; 32];
    let salt = format!("merchant-desk pairing {}", code.claim());
    pbkdf2::pbkdf2::<Hmac<Sha256>>(code.secret().as_bytes(), salt.as_bytes(), ROUNDS, &mut key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    key
}

fn cipher(code: &PairingCode) -> Aes256Gcm {
    Aes256Gcm::new_from_slice(&key(code)).unwrap_or_else(|_| unreachable!("a 32-byte key"))
}

/// Seals `bundle` for the desk that will type `code`.
pub fn seal(bundle: &Bundle, code: &PairingCode) -> String {
    let plain = serde_json::to_vec(bundle).unwrap_or_else(|_| unreachable!("plain strings"));
    let nonce: [u8; 12] = rand::rng().random();
    let sealed = cipher(code)
        .encrypt(&Nonce::from(nonce), plain.as_slice())
        .unwrap_or_else(|_| unreachable!("a bundle is far below AES-GCM's limit"));
    let mut out = nonce.to_vec();
    out.extend(sealed);
    STANDARD.encode(out)
}

/// Opens what [`seal`] made with the same code.
pub fn open(sealed: &str, code: &PairingCode) -> Result<Bundle, OpenError> {
    let bytes = STANDARD.decode(sealed).map_err(|_| OpenError::Unreadable)?;
    if bytes.len() < 12 {
        return Err(OpenError::Unreadable);
    }
    let (nonce, sealed) = bytes.split_at(12);
    let nonce: [u8; 12] = nonce.try_into().map_err(|_| OpenError::Unreadable)?;
    let plain = cipher(code)
        .decrypt(&Nonce::from(nonce), sealed)
        .map_err(|_| OpenError::WrongCode)?;
    serde_json::from_slice(&plain).map_err(|_| OpenError::Unreadable)
}

/// A new shop key: 256 random bits, hex.
pub fn new_shop_key() -> String {
    let random: [u8; 32] = rand::rng().random();
    hex::encode(random)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn bundle() -> Bundle {
        Bundle {
            appid: "wx2421b1c4370ec43b".into(),
            mch_id: "10000100".into(),
            sign_type: "MD5".into(),
            api_key: "192006250b4c09247ec02edce69f6a2d".into(),
            shop_key: new_shop_key(),
        }
    }

    #[test]
    fn the_same_code_opens_it_and_a_code_one_letter_off_does_not() {
        let code = PairingCode::generate(crate::Role::Staff);
        let original = bundle();
        let sealed = seal(&original, &code);
        assert!(
            !sealed.contains("192006250b4c"),
            "the key is not readable on the relay"
        );
        assert_eq!(open(&sealed, &code).unwrap(), original);
        let shown = code.display();
        let last = shown.chars().last().unwrap();
        let other = if last == '0' { '1' } else { '0' };
        let typo = PairingCode::parse(&format!("{}{other}", &shown[..shown.len() - 1])).unwrap();
        assert_eq!(open(&sealed, &typo), Err(OpenError::WrongCode));
        let mut tampered = STANDARD.decode(&sealed).unwrap();
        tampered[20] ^= 1;
        assert_eq!(
            open(&STANDARD.encode(tampered), &code),
            Err(OpenError::WrongCode)
        );
        assert_eq!(open("not base64!", &code), Err(OpenError::Unreadable));
    }
}
