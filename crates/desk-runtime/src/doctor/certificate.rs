//! The certificate, read on this computer: it opens, matches its key, is valid now and for a
//! while, and names this merchant.

use std::time::{Duration, SystemTime};

use wxpay_client::{ClientIdentity, IdentityError};

use super::finding::{CertificateProblem, Finding};
use super::{Check, CheckName};

/// Certificates expiring sooner than this get a warning.
const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);

/// The three local checks of a certificate that could be read, or the one that says why not.
pub fn certificate_checks(
    identity: &Result<ClientIdentity, IdentityError>,
    mch_id: &str,
    now: SystemTime,
) -> Vec<Check> {
    match identity {
        Ok(identity) => vec![
            Check::new(
                CheckName::Certificate,
                Finding::CertificateReadable {
                    subject: identity.subject().to_owned(),
                },
            ),
            expiry_check(identity, now),
            merchant_check(identity.subject(), mch_id),
        ],
        Err(error) => vec![Check::new(
            CheckName::Certificate,
            Finding::CertificateUnusable {
                problem: CertificateProblem::of(error),
                detail: error.to_string(),
            },
        )],
    }
}

fn expiry_check(identity: &ClientIdentity, now: SystemTime) -> Check {
    let date = identity.expiry_date();
    let finding = match identity.check_validity(now) {
        Err(IdentityError::NotYetValid(date)) => Finding::CertificateNotYetValid { date },
        Err(_) => Finding::CertificateExpired { date },
        Ok(()) if identity.not_after() < now + EXPIRY_WARNING => Finding::ExpiresSoon { date },
        Ok(()) => Finding::ValidUntil { date },
    };
    Check::new(CheckName::CertificateExpiry, finding)
}

/// WeChat issues API certificates with the merchant id as the common name. This also covers
/// what the `/secapi/` probe may not: whether WeChat compares the certificate's merchant with
/// the request's before or after it looks the order up is not documented.
fn merchant_check(subject: &str, mch_id: &str) -> Check {
    let common_name = subject
        .split(',')
        .map(str::trim)
        .find_map(|part| part.strip_prefix("CN="));
    let finding = match common_name {
        Some(cn) if cn == mch_id => Finding::IssuedToMerchant {
            mch_id: mch_id.to_owned(),
        },
        Some(cn) => Finding::IssuedToOther {
            common_name: cn.to_owned(),
            mch_id: mch_id.to_owned(),
        },
        None => Finding::NamesNoMerchant {
            subject: subject.to_owned(),
        },
    };
    Check::new(CheckName::CertificateMerchant, finding)
}
