//! Desk tokens and pairing codes. The relay stores only their SHA-256 digests, so its database
//! leaking gives nobody a desk's access.

use rand::RngExt as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a paired desk may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The desk with the merchant certificate: approves and sends refunds, pairs other desks.
    Owner,
    /// Watches alerts and the queue, read-only.
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Staff => "staff",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown desk role {0:?}")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;

    fn from_str(code: &str) -> Result<Role, UnknownRole> {
        [Role::Owner, Role::Staff]
            .into_iter()
            .find(|role| role.as_str() == code)
            .ok_or_else(|| UnknownRole(code.to_owned()))
    }
}

/// A desk as the owner's desk (`GET /desk/v1/desks`) and the relay's doctor list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeskInfo {
    pub id: i64,
    /// How the owner named it when pairing ("收银台").
    pub name: String,
    pub role: Role,
    pub paired_at: i64,
    pub last_seen_at: Option<i64>,
    /// The last entry it said it stored.
    pub acked_seq: i64,
    pub revoked: bool,
}

/// The desk a code's claim (its first eight letters, as the relay sees them) makes; `None`
/// when it does not start with a letter of the code's alphabet.
pub fn role_of_claim(claim: &str) -> Option<Role> {
    let first = u8::try_from(claim.chars().next()?.to_ascii_uppercase()).ok()?;
    [Role::Owner, Role::Staff]
        .into_iter()
        .find(|role| first_letters(*role).contains(&first))
}

/// A new desk token: `mdr_` and 256 random bits.
pub fn new_token() -> String {
    use base64::Engine as _;
    let random: [u8; 32] = rand::rng().random();
    format!(
        "mdr_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
    )
}

/// What the relay stores of a token or a pairing code's claim.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Letters a person reads off one screen and types on another without confusing them
/// (Crockford's base 32: no I, L, O or U).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const LENGTH: usize = 20;

/// A pairing code: `XXXX-XXXX-XXXX-XXXX-XXXX`. The first two groups (40 bits) are the claim the
/// relay checks, once, within minutes; the last three (60 bits) never leave the two desks: they
/// seal what the owner's desk hands over, which a relay could try to open offline.
///
/// The first letter says which desk the code makes, so the desk knows the role from what the
/// person typed, never from the relay's answer: owner codes start with one of `0`–`9`, `A`–`F`,
/// staff codes with one of `G`–`Z` (Crockford's halves).
#[derive(Clone, PartialEq, Eq)]
pub struct PairingCode(String);

impl std::fmt::Debug for PairingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairingCode(..)")
    }
}

/// A typed code that is not sixteen of the code's letters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a pairing code is 20 letters and digits, like 7KQM-3XTR-9BHD-2WPN-5C8E: check what was typed"
)]
pub struct BadCode;

/// The half of the alphabet a code of `role` starts with.
fn first_letters(role: Role) -> &'static [u8] {
    match role {
        Role::Owner => &ALPHABET[..16],
        Role::Staff => &ALPHABET[16..],
    }
}

impl PairingCode {
    /// A new code for a desk of `role`.
    pub fn generate(role: Role) -> PairingCode {
        let mut rng = rand::rng();
        let first = first_letters(role);
        let mut code = String::with_capacity(LENGTH);
        code.push(char::from(first[rng.random_range(0..first.len())]));
        code.extend((1..LENGTH).map(|_| char::from(ALPHABET[rng.random_range(0..32)])));
        PairingCode(code)
    }

    /// The desk this code makes, read from its first letter.
    pub fn role(&self) -> Role {
        role_of_claim(self.claim()).unwrap_or_else(|| unreachable!("parsed: letters of ALPHABET"))
    }

    /// A code as a person typed it: any case, with or without dashes and spaces; `O` read as
    /// zero and `I`/`L` as one, as Crockford's alphabet intends.
    pub fn parse(typed: &str) -> Result<PairingCode, BadCode> {
        let mut code = String::with_capacity(LENGTH);
        for c in typed.chars() {
            let c = match c.to_ascii_uppercase() {
                '-' | ' ' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c => c,
            };
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return Err(BadCode);
            }
            code.push(c);
        }
        if code.len() != LENGTH {
            return Err(BadCode);
        }
        Ok(PairingCode(code))
    }

    /// The part sent to the relay.
    pub fn claim(&self) -> &str {
        &self.0[..8]
    }

    /// The part that stays with the desks.
    pub fn secret(&self) -> &str {
        &self.0[8..]
    }

    /// As shown to a person.
    pub fn display(&self) -> String {
        let c = &self.0;
        format!(
            "{}-{}-{}-{}-{}",
            &c[..4],
            &c[4..8],
            &c[8..12],
            &c[12..16],
            &c[16..]
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_code_says_which_desk_it_makes() {
        for role in [Role::Owner, Role::Staff] {
            for _ in 0..200 {
                let code = PairingCode::generate(role);
                assert_eq!(code.role(), role);
                assert_eq!(role_of_claim(code.claim()), Some(role));
                assert_eq!(PairingCode::parse(&code.display()).unwrap().role(), role);
            }
        }
        assert_eq!(role_of_claim("0AAAAAAA"), Some(Role::Owner));
        assert_eq!(role_of_claim("faaaaaaa"), Some(Role::Owner));
        assert_eq!(role_of_claim("GAAAAAAA"), Some(Role::Staff));
        assert_eq!(role_of_claim("zAAAAAAA"), Some(Role::Staff));
        assert_eq!(role_of_claim("UAAAAAAA"), None);
        assert_eq!(role_of_claim(""), None);
    }

    #[test]
    fn a_code_reads_back_however_it_was_typed() {
        let code = PairingCode::generate(Role::Staff);
        let shown = code.display();
        assert_eq!(PairingCode::parse(&shown).unwrap(), code);
        assert_eq!(PairingCode::parse(&shown.to_lowercase()).unwrap(), code);
        assert_eq!(PairingCode::parse(&shown.replace('-', " ")).unwrap(), code);
        assert_eq!(
            PairingCode::parse("7kqm-3xtr-9bhd-2wpo-5c8e")
                .unwrap()
                .display(),
            "7KQM-3XTR-9BHD-2WP0-5C8E"
        );
        assert_eq!(PairingCode::parse("7KQM-3XTR-9BHD-2WPN"), Err(BadCode));
        assert_eq!(PairingCode::parse("7KQM-3XTR-9BHD-2WPN-5C8U"), Err(BadCode));
        assert_eq!((code.claim().len(), code.secret().len()), (8, 12));
    }

    #[test]
    fn tokens_are_long_random_and_stored_as_digests() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 43);
        assert_eq!(digest(&a).len(), 64);
        assert_ne!(digest(&a), digest(&b));
    }
}
