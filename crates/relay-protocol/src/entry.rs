//! One entry of a shop's log.

use serde::{Deserialize, Serialize};

/// What an entry holds, by the door it came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// WeChat's payment notification XML, from WeChat or forwarded byte for byte by the backend.
    PaymentNotification,
    /// WeChat's refund notification XML (its `req_info` encrypted for the merchant's key).
    RefundNotification,
    /// The backend's refund request JSON with its timestamp and HMAC headers.
    RefundRequest,
    /// The owner's desk's record of a refund request as it stands now (`update.rs`), signed
    /// with the shop key the desks share: how staff desks show the same queue.
    DeskUpdate,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::PaymentNotification,
        Kind::RefundNotification,
        Kind::RefundRequest,
        Kind::DeskUpdate,
    ];

    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::PaymentNotification => "payment_notification",
            Kind::RefundNotification => "refund_notification",
            Kind::RefundRequest => "refund_request",
            Kind::DeskUpdate => "desk_update",
        }
    }
}

/// A stored code no [`Kind`] has (a database written by a newer relay).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown entry kind {0:?}: is this database from a newer relay?")]
pub struct UnknownKind(pub String);

impl std::str::FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(code: &str) -> Result<Kind, UnknownKind> {
        Kind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == code)
            .ok_or_else(|| UnknownKind(code.to_owned()))
    }
}

/// An entry as a desk receives it: the event stream's `data`, with `seq` as its `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its place in the shop's log: 1, 2, 3, ... with no gaps except what retention removed.
    pub seq: i64,
    pub kind: Kind,
    /// When the relay stored it (Unix seconds): the clock a refund request's timestamp is
    /// checked against, however late the desk reads it.
    pub received_at: i64,
    /// The body as it arrived (every door takes UTF-8 only: XML and JSON).
    pub body: String,
    /// A refund request's `X-Merchant-Desk-Timestamp` and `X-Merchant-Desk-Signature`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

impl Entry {
    /// What the entry holds, as a digest (its number aside): a desk keeps the digest of the
    /// entry it took last and compares it with what the relay sends under that number at the
    /// next connection, so a log that went back is seen.
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        let mut field = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_be_bytes());
            hash.update(bytes);
        };
        field(self.kind.as_str().as_bytes());
        field(&self.received_at.to_be_bytes());
        field(self.body.as_bytes());
        for optional in [&self.timestamp, &self.signature] {
            match optional {
                Some(text) => field(text.as_bytes()),
                None => field(b"\0none"),
            }
        }
        hex::encode(hash.finalize())
    }
}

/// The stream's first event: where the shop's log starts now, so a desk that was away longer
/// than retention knows it missed entries (and reconciles with WeChat's bill).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The oldest entry still kept (`last_seq + 1` when none is).
    pub first_seq: i64,
    /// The newest entry so far (0 when none).
    pub last_seq: i64,
}

/// What a desk acknowledges: it stored every entry up to `through`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub through: i64,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_digest_covers_what_an_entry_holds_but_not_its_number() {
        let entry = Entry {
            seq: 7,
            kind: Kind::RefundRequest,
            received_at: 1_700_000_000,
            body: "{}".into(),
            timestamp: Some("1700000000".into()),
            signature: Some("ab".into()),
        };
        let digest = entry.digest();
        assert_eq!(
            Entry {
                seq: 8,
                ..entry.clone()
            }
            .digest(),
            digest
        );
        for other in [
            Entry {
                kind: Kind::DeskUpdate,
                ..entry.clone()
            },
            Entry {
                received_at: 1_700_000_001,
                ..entry.clone()
            },
            Entry {
                body: "{} ".into(),
                ..entry.clone()
            },
            Entry {
                timestamp: None,
                ..entry.clone()
            },
            Entry {
                signature: Some("ac".into()),
                ..entry.clone()
            },
            Entry {
                timestamp: Some("ab".into()),
                signature: Some("1700000000".into()),
                ..entry.clone()
            },
        ] {
            assert_ne!(other.digest(), digest, "{other:?}");
        }
    }

    #[test]
    fn every_kind_reads_back_from_its_code() {
        for kind in Kind::ALL {
            assert_eq!(kind.as_str().parse::<Kind>(), Ok(kind));
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
        assert!("payment".parse::<Kind>().is_err());
    }
}
