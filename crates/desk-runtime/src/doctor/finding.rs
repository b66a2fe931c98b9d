//! What each check found, as a code with the facts it needs: the window and the CLI word it
//! (with the fix) in the reader's language.

use desk_core::Problem;
use serde::Serialize;
use wxpay_client::IdentityError;

/// One check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Status {
    Ok,
    Warning,
    Failed,
    /// Not run because an earlier check failed.
    Skipped,
}

/// What a check found. Each names its own fix where there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Finding {
    // The configuration.
    SandboxMode,
    MerchantConfigured {
        mch_id: String,
        appid: String,
        sign_type: String,
    },
    NoConfig {
        path: String,
    },
    ConfigUnreadable {
        detail: String,
    },
    NoMerchant,
    // What the owner typed (setup).
    IdsWellFormed,
    MchIdMalformed,
    AppIdMalformed,
    ApiKeyMalformed {
        length: usize,
    },
    KeyWellFormed,
    // Where the API key is kept.
    KeyInKeyring,
    KeyInFile {
        path: String,
    },
    NoApiKey,
    SecretsUnavailable {
        detail: String,
    },
    // The certificate, read on this computer.
    CertificateReadable {
        subject: String,
    },
    CertificateUnusable {
        problem: CertificateProblem,
        detail: String,
    },
    ValidUntil {
        date: String,
    },
    ExpiresSoon {
        date: String,
    },
    CertificateExpired {
        date: String,
    },
    CertificateNotYetValid {
        date: String,
    },
    IssuedToMerchant {
        mch_id: String,
    },
    IssuedToOther {
        common_name: String,
        mch_id: String,
    },
    NamesNoMerchant {
        subject: String,
    },
    // WeChat Pay's answers.
    /// No client could be made to ask WeChat (the sandbox is not running, the test server's CA
    /// cannot be read).
    ClientUnavailable {
        detail: String,
    },
    /// A signed refund query was answered: the ids and the API key are right.
    SignatureAccepted,
    /// A refund for an order that does not exist was answered ORDERNOTEXIST on `/secapi/`:
    /// the certificate and the key are accepted where refunds go.
    RefundPathAccepted,
    /// `/secapi/` answered a signed business error other than ORDERNOTEXIST: the certificate
    /// passed, but not with the answer that proves it beyond doubt.
    RefundPathAnswered {
        wechat: String,
    },
    /// WeChat refused the probe, or it got no answer: the problem says which and its fix.
    WechatRefused {
        problem: Problem,
        wechat: String,
    },
    /// WeChat accepted a refund of an order number that should not exist. Never expected.
    ProbeRefundAccepted {
        out_trade_no: String,
        out_refund_no: String,
    },
    // The intake, from outside.
    Reached {
        url: String,
    },
    NoPublicUrl,
    Unreachable {
        problem: ReachProblem,
        detail: String,
    },
    /// Something answered at the address, but not this desk.
    AnotherServer {
        status: u16,
    },
    // What the intake refused.
    /// An alarm is up: genuine traffic stopped verifying (see `desk_core::watch`).
    AlarmUp {
        cause: desk_core::AlarmCause,
        raised_at: i64,
        count: i64,
    },
    /// No alarm; what was refused in the last day, by door and cause (strangers' noise too).
    RefusedLastDay {
        refused: Vec<desk_core::RefusalCount>,
    },
    /// Not run: an earlier check failed.
    Skipped,
}

/// Why the certificate could not be used, one per [`IdentityError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum CertificateProblem {
    FileMissing,
    Unreadable,
    NotPkcs12,
    WrongPassword,
    NoPrivateKey,
    NoCertificate,
    CertKeyMismatch,
    UnsupportedKey,
    InvalidPem,
    BadCertificate,
    Expired,
    NotYetValid,
}

impl CertificateProblem {
    pub fn of(error: &IdentityError) -> CertificateProblem {
        use CertificateProblem as P;
        match error {
            IdentityError::FileMissing(_) => P::FileMissing,
            IdentityError::Unreadable { .. } => P::Unreadable,
            IdentityError::NotPkcs12(_) => P::NotPkcs12,
            IdentityError::WrongPassword => P::WrongPassword,
            IdentityError::NoPrivateKey => P::NoPrivateKey,
            IdentityError::NoCertificate => P::NoCertificate,
            IdentityError::CertKeyMismatch => P::CertKeyMismatch,
            IdentityError::UnsupportedKey => P::UnsupportedKey,
            IdentityError::InvalidPem(_) => P::InvalidPem,
            IdentityError::BadCertificate(_) => P::BadCertificate,
            IdentityError::Expired(_) => P::Expired,
            IdentityError::NotYetValid(_) => P::NotYetValid,
        }
    }
}

/// Why the public address did not reach the intake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum ReachProblem {
    /// Not an `https://` address WeChat could call.
    NotHttps,
    /// The name does not resolve, or nothing listens there.
    NoConnection,
    /// The address's HTTPS certificate is not trusted (WeChat would refuse it too).
    Certificate,
    /// No answer in time.
    Timeout,
}

impl Finding {
    pub fn status(&self) -> Status {
        use Finding as F;
        match self {
            F::SandboxMode
            | F::MerchantConfigured { .. }
            | F::IdsWellFormed
            | F::KeyWellFormed
            | F::KeyInKeyring
            | F::CertificateReadable { .. }
            | F::ValidUntil { .. }
            | F::IssuedToMerchant { .. }
            | F::SignatureAccepted
            | F::RefundPathAccepted
            | F::Reached { .. }
            | F::RefusedLastDay { .. } => Status::Ok,
            F::KeyInFile { .. }
            | F::ExpiresSoon { .. }
            | F::NamesNoMerchant { .. }
            | F::RefundPathAnswered { .. }
            | F::NoPublicUrl => Status::Warning,
            F::NoConfig { .. }
            | F::ConfigUnreadable { .. }
            | F::NoMerchant
            | F::MchIdMalformed
            | F::AppIdMalformed
            | F::ApiKeyMalformed { .. }
            | F::NoApiKey
            | F::SecretsUnavailable { .. }
            | F::CertificateUnusable { .. }
            | F::CertificateExpired { .. }
            | F::CertificateNotYetValid { .. }
            | F::IssuedToOther { .. }
            | F::ClientUnavailable { .. }
            | F::WechatRefused { .. }
            | F::ProbeRefundAccepted { .. }
            | F::Unreachable { .. }
            | F::AnotherServer { .. }
            | F::AlarmUp { .. } => Status::Failed,
            F::Skipped => Status::Skipped,
        }
    }
}
