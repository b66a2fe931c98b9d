//! API v2 signatures (安全规范/签名算法).
//!
//! Every field except `sign` and empty values, sorted by name in byte order, joined as
//! `k=v&k=v` without URL-encoding, then `&key=API_KEY`; MD5 or HMAC-SHA256 (keyed with the API
//! key as well), uppercase hex. Verification runs over every field received, unknown ones
//! included, and compares in constant time.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::fields::Fields;
use crate::secret::ApiKey;

/// The two v2 signature algorithms. The wire name of each is also the `sign_type` value.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum SignType {
    #[default]
    #[serde(rename = "MD5")]
    Md5,
    #[serde(rename = "HMAC-SHA256")]
    HmacSha256,
}

impl SignType {
    pub const fn as_str(self) -> &'static str {
        match self {
            SignType::Md5 => "MD5",
            SignType::HmacSha256 => "HMAC-SHA256",
        }
    }

    /// Parses the exact wire spelling.
    pub fn from_wire(text: &str) -> Option<SignType> {
        match text {
            "MD5" => Some(SignType::Md5),
            "HMAC-SHA256" => Some(SignType::HmacSha256),
            _ => None,
        }
    }

    /// Length of a sign in hex characters.
    pub const fn sign_len(self) -> usize {
        match self {
            SignType::Md5 => 32,
            SignType::HmacSha256 => 64,
        }
    }

    fn from_sign_len(len: usize) -> Option<SignType> {
        match len {
            32 => Some(SignType::Md5),
            64 => Some(SignType::HmacSha256),
            _ => None,
        }
    }
}

impl fmt::Display for SignType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SignType {
    type Err = SignatureError;
    fn from_str(text: &str) -> Result<Self, SignatureError> {
        SignType::from_wire(text).ok_or_else(|| SignatureError::UnknownSignType(text.to_owned()))
    }
}

/// Which algorithm a verification accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A response to a request signed with this algorithm.
    Exactly(SignType),
    /// A notification: `sign_type` when present, else the sign's length (32 MD5, 64 HMAC-SHA256),
    /// because WeChat omits `sign_type` from notifications of HMAC-SHA256 orders.
    Detect,
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the message has no `sign` field")]
    Missing,
    #[error("unknown sign_type {0:?} (expected MD5 or HMAC-SHA256)")]
    UnknownSignType(String),
    #[error("the sign is {len} characters; MD5 signs are 32 and HMAC-SHA256 signs 64")]
    WrongLength { len: usize },
    #[error("the message is signed with {found}, but {expected} was expected")]
    UnexpectedSignType { expected: SignType, found: SignType },
    #[error("the sign does not match the message: wrong API key, or the message was altered")]
    Mismatch,
}

/// Signs `fields` (a `sign` field among them is ignored). Returns uppercase hex.
pub fn sign(fields: &Fields<'_>, key: &ApiKey, sign_type: SignType) -> String {
    let digest = digest(fields, key, sign_type);
    let mut hex = [0u8; 64];
    let hex = upper_hex_into(digest.as_slice(), &mut hex);
    hex.iter().map(|&b| char::from(b)).collect()
}

/// The raw digest (16 bytes for MD5, 32 for HMAC-SHA256) of `stringSignTemp`, streamed into the
/// hasher so the key is never copied into a buffer.
fn digest(fields: &Fields<'_>, key: &ApiKey, sign_type: SignType) -> Digest32 {
    let mut out = Digest32::default();
    match sign_type {
        SignType::Md5 => {
            let mut hasher = Md5::new();
            feed(fields, key, |bytes| hasher.update(bytes));
            out.set(&hasher.finalize());
        }
        SignType::HmacSha256 => {
            let mut mac = hmac_sha256(key);
            feed(fields, key, |bytes| mac.update(bytes));
            out.set(&mac.finalize().into_bytes());
        }
    }
    out
}

fn feed(fields: &Fields<'_>, key: &ApiKey, mut write: impl FnMut(&[u8])) {
    for (name, value) in signed_fields(fields) {
        write(name.as_bytes());
        write(b"=");
        write(value.as_bytes());
        write(b"&");
    }
    write(b"key=");
    write(key.expose().as_bytes());
}

/// A digest of up to 32 bytes, on the stack.
#[derive(Default)]
struct Digest32 {
    bytes: [u8; 32],
    len: usize,
}

impl Digest32 {
    fn set(&mut self, digest: &[u8]) {
        self.len = digest.len();
        self.bytes[..self.len].copy_from_slice(digest);
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Signs `fields`, adds `sign`, and encodes the XML body: how every signed v2 message is made
/// (our requests; the simulator's answers and notifications).
pub fn sign_and_encode(
    mut fields: Fields<'_>,
    key: &ApiKey,
    sign_type: SignType,
) -> Result<String, crate::Error> {
    let sign = sign(&fields, key, sign_type);
    fields.insert("sign", sign)?;
    Ok(crate::xml::encode(&fields).map_err(crate::RequestError::from)?)
}

/// `stringA` of the documentation: the sorted `k=v&...` string, without the `&key=` suffix, so it
/// can be shown when debugging a signature without showing the key.
pub fn string_to_sign(fields: &Fields<'_>) -> String {
    let mut out = String::new();
    for (name, value) in signed_fields(fields) {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Checks the `sign` field of a received message and returns the algorithm it was signed with.
pub fn verify(
    fields: &Fields<'_>,
    key: &ApiKey,
    expect: Expect,
) -> Result<SignType, SignatureError> {
    let received = fields.get("sign").ok_or(SignatureError::Missing)?;
    let declared = fields
        .get("sign_type")
        .map(|t| {
            SignType::from_wire(t).ok_or_else(|| SignatureError::UnknownSignType(t.to_owned()))
        })
        .transpose()?;
    let by_length = SignType::from_sign_len(received.len());
    let sign_type = match (expect, declared) {
        (Expect::Exactly(expected), Some(found)) if found != expected => {
            return Err(SignatureError::UnexpectedSignType { expected, found });
        }
        (Expect::Exactly(expected), _) => expected,
        (Expect::Detect, Some(declared)) => declared,
        (Expect::Detect, None) => by_length.ok_or(SignatureError::WrongLength {
            len: received.len(),
        })?,
    };
    if received.len() != sign_type.sign_len() {
        return Err(SignatureError::WrongLength {
            len: received.len(),
        });
    }
    let digest = digest(fields, key, sign_type);
    let mut expected = [0u8; 64];
    let expected = upper_hex_into(digest.as_slice(), &mut expected);
    let mut upper = [0u8; 64];
    for (to, from) in upper.iter_mut().zip(received.bytes()) {
        *to = from.to_ascii_uppercase();
    }
    if bool::from(expected.ct_eq(&upper[..received.len()])) {
        Ok(sign_type)
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn signed_fields<'f>(fields: &'f Fields<'_>) -> impl Iterator<Item = (&'f str, &'f str)> {
    fields
        .iter()
        .filter(|(name, value)| !value.is_empty() && *name != "sign")
}

fn hmac_sha256(key: &ApiKey) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; this cannot fail.
    match Hmac::<Sha256>::new_from_slice(key.expose().as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

/// Writes uppercase hex of `bytes` (at most 32) into `out` and returns the written part.
fn upper_hex_into<'o>(bytes: &[u8], out: &'o mut [u8; 64]) -> &'o [u8] {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for (i, &b) in bytes.iter().enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
    }
    &out[..2 * bytes.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ApiKey {
        ApiKey::new("192006250b4c09247ec02edce69f6a2d").unwrap()
    }

    #[test]
    fn empty_values_and_sign_are_not_signed() {
        let fields =
            Fields::from_pairs([("b", "2"), ("a", "1"), ("c", ""), ("sign", "X")]).unwrap();
        assert_eq!(string_to_sign(&fields), "a=1&b=2");
    }

    #[test]
    fn zero_is_a_value_not_an_empty_field() {
        // wechatpy skips falsy values; "0" must be signed.
        let fields = Fields::from_pairs([("coupon_fee", "0")]).unwrap();
        assert_eq!(string_to_sign(&fields), "coupon_fee=0");
    }

    #[test]
    fn detect_uses_length_when_sign_type_is_absent() {
        let mut pairs = vec![("appid", "wx1".to_owned()), ("total_fee", "1".to_owned())];
        let unsigned = Fields::from_pairs(pairs.clone()).unwrap();
        pairs.push(("sign", sign(&unsigned, &key(), SignType::HmacSha256)));
        let signed = Fields::from_pairs(pairs).unwrap();
        assert_eq!(
            verify(&signed, &key(), Expect::Detect),
            Ok(SignType::HmacSha256)
        );
        assert_eq!(
            verify(&signed, &key(), Expect::Exactly(SignType::Md5)),
            Err(SignatureError::WrongLength { len: 64 })
        );
    }

    #[test]
    fn lowercase_hex_sign_is_accepted() {
        let unsigned = Fields::from_pairs([("a", "1")]).unwrap();
        let lower = sign(&unsigned, &key(), SignType::Md5).to_ascii_lowercase();
        let signed = Fields::from_pairs([("a", "1"), ("sign", lower.as_str())]).unwrap();
        assert_eq!(verify(&signed, &key(), Expect::Detect), Ok(SignType::Md5));
    }
}
