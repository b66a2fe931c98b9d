//! "Does the public address reach this desk?": the desk posts a signed challenge to
//! `{public_url}/wxpay/reach` and the intake behind it answers with a proof only the holder of
//! the shared secret can make. Another server at the address cannot answer it; a stranger
//! without the secret gets nothing signed back.

use serde::{Deserialize, Serialize};

use crate::request::{Refusal, authenticate};
use crate::signature::sign;

/// The path under the public address.
pub const REACH_PATH: &str = "/wxpay/reach";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Challenge {
    /// Random hex, 32 to 64 digits.
    pub challenge: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    pub proof: String,
}

/// The proof for `challenge` sent at `timestamp`.
pub fn proof(secret: &str, timestamp: i64, challenge: &str) -> String {
    sign(secret, timestamp, format!("reached:{challenge}").as_bytes())
}

/// The intake's side: checks the request like a refund request, then answers the proof.
pub fn answer(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<Proof, Refusal> {
    authenticate(secret, timestamp, signature, body, now)?;
    let challenge: Challenge = serde_json::from_slice(body)
        .map_err(|e| Refusal::Invalid(format!("the body is not a reach challenge: {e}")))?;
    let well_formed = (32..=64).contains(&challenge.challenge.len())
        && challenge.challenge.bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed {
        return Err(Refusal::Invalid(
            "challenge must be 32 to 64 hex digits".into(),
        ));
    }
    // The timestamp was authenticated above; it parses.
    let timestamp = timestamp.and_then(|t| t.parse().ok()).unwrap_or_default();
    Ok(Proof {
        proof: proof(secret, timestamp, &challenge.challenge),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_signed_challenge_gets_its_proof() {
        let body = br#"{"challenge":"00112233445566778899aabbccddeeff"}"#;
        let at = 1_700_000_000;
        let signature = sign("s3cret", at, body);
        let answered = answer("s3cret", Some("1700000000"), Some(&signature), body, at).unwrap();
        assert_eq!(
            answered.proof,
            proof("s3cret", at, "00112233445566778899aabbccddeeff")
        );
        assert_ne!(
            answered.proof,
            proof("other", at, "00112233445566778899aabbccddeeff")
        );
        assert!(answer("other", Some("1700000000"), Some(&signature), body, at).is_err());
        assert!(answer("s3cret", None, None, body, at).is_err());
        let short = br#"{"challenge":"00"}"#;
        let signature = sign("s3cret", at, short);
        assert!(matches!(
            answer("s3cret", Some("1700000000"), Some(&signature), short, at),
            Err(Refusal::Invalid(_))
        ));
    }
}
