//! The doctor's findings in English, each with its fix (the window has them in Chinese too).

use desk_core::Problem;
use desk_runtime::{CertificateProblem, Check, CheckName, Finding, ReachProblem, Status};

const API_SECURITY: &str = "商户平台 → 账户中心 → API安全";

/// `[ok  ] wechat_refund          ...` lines.
pub fn report(checks: &[Check]) -> String {
    checks
        .iter()
        .map(|check| {
            let mark = match check.status {
                Status::Ok => "ok  ",
                Status::Warning => "WARN",
                Status::Failed => "FAIL",
                Status::Skipped => "skip",
            };
            format!("[{mark}] {:<21} {}", name(check.name), text(&check.finding))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn name(name: CheckName) -> &'static str {
    match name {
        CheckName::Config => "config",
        CheckName::Merchant => "merchant",
        CheckName::ApiKey => "api_key",
        CheckName::Secrets => "secrets",
        CheckName::Certificate => "certificate",
        CheckName::CertificateExpiry => "certificate_expiry",
        CheckName::CertificateMerchant => "certificate_merchant",
        CheckName::WechatSignature => "wechat_signature",
        CheckName::WechatRefund => "wechat_refund",
        CheckName::Intake => "intake",
        CheckName::Notifications => "notifications",
    }
}

pub fn text(finding: &Finding) -> String {
    use Finding as F;
    match finding {
        F::SandboxMode => {
            "sandbox mode: refunds go to the built-in simulator, no real money moves".into()
        }
        F::MerchantConfigured {
            mch_id,
            appid,
            sign_type,
        } => format!("merchant {mch_id} (appid {appid}), signing with {sign_type}"),
        F::NoConfig { path } => format!(
            "{path} does not exist: run `merchant-desk-cli setup` for your merchant, or `serve --sandbox` to try the sandbox"
        ),
        F::ConfigUnreadable { detail } => detail.clone(),
        F::NoMerchant => {
            "no merchant is set up: run `merchant-desk-cli setup` with your appid, mch_id and certificate".into()
        }
        F::IdsWellFormed => "the mch_id and appid have WeChat's form".into(),
        F::MchIdMalformed => {
            "the mch_id (商户号) is the merchant number of 8 to 10 digits: find it in 商户平台 → 账户中心 → 商户信息".into()
        }
        F::AppIdMalformed => {
            "the appid starts with wx and has 18 characters: find it in the mini-program's 开发管理 → 开发设置".into()
        }
        F::ApiKeyMalformed { length } => format!(
            "the API v2 key must be 32 letters and digits (this one has {length} characters): copy it again from {API_SECURITY} → 设置APIv2密钥"
        ),
        F::KeyWellFormed => "the API key has 32 letters and digits".into(),
        F::KeyInKeyring => "the API key is in the system keyring".into(),
        F::KeyInFile { path } => format!(
            "the API key is in {path} (no system keyring was available when it was saved); it is readable only by your user account"
        ),
        F::NoApiKey => "the API key is not saved: run `merchant-desk-cli setup` again".into(),
        F::SecretsUnavailable { detail } => detail.clone(),
        F::CertificateReadable { subject } => {
            format!("readable, password right, matches its private key ({subject})")
        }
        F::CertificateUnusable { problem, detail } => certificate_text(*problem, detail),
        F::ValidUntil { date } => format!("valid until {date}"),
        F::ExpiresSoon { date } => format!(
            "the certificate expires on {date}: download a new API certificate in {API_SECURITY} soon"
        ),
        F::CertificateExpired { date } => format!(
            "the certificate expired on {date}: download a new API certificate in {API_SECURITY}"
        ),
        F::CertificateNotYetValid { date } => format!(
            "the certificate is not valid before {date}: check this computer's date and time"
        ),
        F::IssuedToMerchant { mch_id } => format!("issued to merchant {mch_id}"),
        F::IssuedToOther {
            common_name,
            mch_id,
        } => format!(
            "the certificate was issued to {common_name}, not to merchant {mch_id}: import the certificate of merchant {mch_id}"
        ),
        F::NamesNoMerchant { subject } => {
            format!("the certificate names no merchant ({subject}); WeChat's name the merchant id")
        }
        F::ClientUnavailable { detail } => detail.clone(),
        F::SignatureAccepted => {
            "WeChat Pay answered a signed query: the appid, mch_id and API key are right".into()
        }
        F::RefundPathAccepted => {
            "WeChat Pay accepted the certificate where refunds go (a refund of an order that does not exist, answered ORDERNOTEXIST; nothing moved)".into()
        }
        F::RefundPathAnswered { wechat } => format!(
            "WeChat Pay let the certificate through where refunds go but answered {wechat} instead of ORDERNOTEXIST; nothing moved"
        ),
        F::WechatRefused { problem, wechat } => {
            format!("{} (WeChat Pay: {wechat})", probe_text(*problem))
        }
        F::ProbeRefundAccepted {
            out_trade_no,
            out_refund_no,
        } => format!(
            "WeChat Pay accepted a test refund {out_refund_no} of order {out_trade_no}, which should not exist: check it in 商户平台 → 交易中心 and tell us"
        ),
        F::Reached { url } => format!("{url} reaches this desk's intake"),
        F::NoPublicUrl => {
            "no public address is set: WeChat Pay cannot send payment notifications to this desk".into()
        }
        F::Unreachable { problem, detail } => format!("{} ({detail})", reach_text(*problem)),
        F::AnotherServer { status } => format!(
            "the address answered HTTP {status}, but not as this desk: point the tunnel or proxy at this desk's intake"
        ),
        F::AlarmUp {
            cause,
            raised_at,
            count,
        } => format!(
            "{} (since {}, {count} refused)",
            alarm_text(*cause),
            wxpay::china_time::to_minute(*raised_at)
        ),
        F::RefusedLastDay { refused } if refused.is_empty() => {
            "nothing was refused in the last day".into()
        }
        F::RefusedLastDay { refused } => format!(
            "refused in the last day (strangers' noise included): {}",
            refused
                .iter()
                .map(|r| format!("{} {} {}", r.door.as_str(), r.cause.as_str(), r.count))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        F::Skipped => "skipped: fix the problem above first".into(),
    }
}

fn certificate_text(problem: CertificateProblem, detail: &str) -> String {
    use CertificateProblem as P;
    let fix = match problem {
        P::WrongPassword => {
            "If you changed the .p12 password, save it with `merchant-desk-cli setup` and WXPAY_CERT_PASSWORD"
        }
        P::CertKeyMismatch => {
            "apiclient_cert.pem and apiclient_key.pem must come from the same download"
        }
        P::FileMissing
        | P::Unreadable
        | P::NotPkcs12
        | P::NoPrivateKey
        | P::NoCertificate
        | P::UnsupportedKey
        | P::InvalidPem
        | P::BadCertificate
        | P::Expired
        | P::NotYetValid => return detail.to_owned(),
    };
    format!("{detail}. {fix}")
}

fn alarm_text(cause: desk_core::AlarmCause) -> &'static str {
    match cause {
        desk_core::AlarmCause::ApiKeyMismatch => {
            "WeChat Pay's notifications do not verify and WeChat refuses this desk's API key: the key in the desk does not match 商户平台. Set it again (`merchant-desk-cli setup`, or Settings in the app)"
        }
        desk_core::AlarmCause::BackendOldSecret => {
            "the shop's backend signs refund requests with a shared secret that was replaced: give the backend developer the new one (Settings → intake)"
        }
        desk_core::AlarmCause::SignedConflict => {
            "a notification signed with the merchant's API key contradicted WeChat Pay and was refused: someone else holds the key (a staff PC, a former employee). Reset it in 商户平台, run `merchant-desk-cli setup` with the new one, and pair the staff desks again"
        }
    }
}

fn reach_text(problem: ReachProblem) -> &'static str {
    match problem {
        ReachProblem::NotHttps => "WeChat Pay only calls https:// addresses",
        ReachProblem::NoConnection => {
            "nothing answered at the public address: check its name and that the tunnel or proxy is running"
        }
        ReachProblem::Certificate => {
            "the public address's HTTPS certificate is not trusted, so WeChat Pay would refuse it too: give the proxy a certificate from a public CA"
        }
        ReachProblem::Timeout => {
            "the public address did not answer in time: check the tunnel or proxy"
        }
    }
}

/// A problem met by the doctor's questions to WeChat, worded as a setup fix.
fn probe_text(problem: Problem) -> &'static str {
    use Problem as P;
    match problem {
        P::ApiKeyWrong => {
            "WeChat Pay refused the signature: the API key is wrong. Copy the API v2 key (not the APIv3 key) again from 商户平台 → 账户中心 → API安全"
        }
        P::MerchantWrong => {
            "WeChat Pay does not know this mch_id or appid, or the appid is not bound to the merchant: check both (商户平台 → 产品中心 → AppID账号管理)"
        }
        P::CertificateRejected => {
            "WeChat Pay did not accept the certificate where refunds go: it is not a certificate WeChat issued to this merchant. Download the API certificate in 商户平台 → 账户中心 → API安全 and import it"
        }
        P::CertificateMissing => "refunds need the merchant's API certificate: import it",
        P::Unreachable => "WeChat Pay could not be reached: check the network",
        P::NoAnswer | P::WechatError | P::WechatBusy | P::UnreadableAnswer => {
            "WeChat Pay did not answer clearly: try again in a minute"
        }
        P::RateLimited => "WeChat Pay asks to slow down: try again in a minute",
        P::ServerNotTrusted => {
            "the server's certificate is not trusted: a proxy may intercept the connection. Check the network"
        }
        P::ClockWrong => {
            "the server's certificate looks expired: check this computer's date and time"
        }
        P::ServerNameMismatch => "the server's certificate is for another address",
        P::SecureConnectionFailed => {
            "the secure connection failed before anything was sent: check a proxy or firewall"
        }
        P::HttpRefused => {
            "a proxy or a wrong address refused the request: check the network and the API address"
        }
        P::OrderNotReady
        | P::NotEnoughFunds
        | P::RequestInvalid
        | P::OrderTooOld
        | P::AccountAbnormal
        | P::OrderNotOnWechat
        | P::OrderStateRefused
        | P::AmountMismatch
        | P::ParametersRefused
        | P::BusinessError
        | P::RequestRefused
        | P::NoRecordYet
        | P::NotFoundAfterAccepted => "WeChat Pay refused the check: read its words",
    }
}
