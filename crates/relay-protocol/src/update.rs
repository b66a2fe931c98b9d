//! The owner's desk's updates for the other desks: each one is the owner's record of one refund
//! request as it stands now (its order, the request, its refund), so applying them in the log's
//! order leaves every desk with the owner's queue, whatever was missed or repeated before.
//!
//! Signed with the shop key the owner's desk shares at pairing (HMAC-SHA256, hex): the relay
//! carries them but cannot write one.

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// What the owner's desk posts to [`crate::paths::UPDATES`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedUpdate {
    /// The update's JSON, as signed.
    pub update: String,
    pub signature: String,
}

fn mac(shop_key: &str) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(shop_key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
}

/// The signature of `update` under the shop key.
pub fn sign(shop_key: &str, update: &str) -> String {
    let mut mac = mac(shop_key);
    mac.update(b"merchant-desk update\n");
    mac.update(update.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `signature` is the shop key's on `update`.
pub fn verify(shop_key: &str, update: &str, signature: &str) -> bool {
    bool::from(
        sign(shop_key, update)
            .as_bytes()
            .ct_eq(signature.to_ascii_lowercase().as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_shop_key_signs_an_update() {
        let signature = sign("key-a", "{\"request\":1}");
        assert!(verify("key-a", "{\"request\":1}", &signature));
        assert!(!verify("key-b", "{\"request\":1}", &signature));
        assert!(!verify("key-a", "{\"request\":2}", &signature));
    }
}
