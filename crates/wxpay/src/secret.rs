//! Secrets whose `Debug` and `Display` print nothing secret, zeroed when dropped.

use std::fmt;
use zeroize::Zeroizing;

const REDACTED: &str = "[redacted]";

macro_rules! secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        // No PartialEq: comparing secrets must be constant-time and deliberate.
        #[derive(Clone)]
        pub struct $name(Zeroizing<String>);

        impl $name {
            /// The secret itself. Call it only where the secret is used, never to log or show it.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({REDACTED})", stringify!($name))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(REDACTED)
            }
        }
    };
}

secret!(
    /// The merchant's API v2 key (商户平台 → API安全 → API密钥). Not the APIv3 key.
    ApiKey
);
secret!(
    /// The password of the merchant's `apiclient_cert.p12` (by default the merchant id).
    CertPassword
);

/// Why an API key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    #[error("the API key is empty: copy the API v2 key from 商户平台 → 账户中心 → API安全")]
    Empty,
    #[error("the API key contains spaces or control characters: copy it again without them")]
    Whitespace,
}

impl ApiKey {
    /// Accepts any non-empty key without whitespace. WeChat issues 32-character keys, but
    /// signature checkers and published examples also use shorter ones.
    pub fn new(key: impl Into<String>) -> Result<ApiKey, ApiKeyError> {
        let key = Zeroizing::new(key.into());
        if key.is_empty() {
            return Err(ApiKeyError::Empty);
        }
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ApiKeyError::Whitespace);
        }
        Ok(ApiKey(key))
    }
}

impl CertPassword {
    pub fn new(password: impl Into<String>) -> CertPassword {
        CertPassword(Zeroizing::new(password.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_secret() {
        let key = ApiKey::new("192006250b4c09247ec02edce69f6a2d").unwrap();
        let password = CertPassword::new("10000100");
        for shown in [
            format!("{key:?}"),
            format!("{key}"),
            format!("{password:?}"),
            format!("{password}"),
            format!("{:?}", Some(&key)),
        ] {
            assert!(!shown.contains("192006"), "{shown}");
            assert!(!shown.contains("10000100"), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
        assert_eq!(key.expose(), "192006250b4c09247ec02edce69f6a2d");
    }

    #[test]
    fn keys_are_checked() {
        assert!(matches!(ApiKey::new(""), Err(ApiKeyError::Empty)));
        assert!(matches!(
            ApiKey::new("abc def"),
            Err(ApiKeyError::Whitespace)
        ));
        assert!(matches!(ApiKey::new("abc\n"), Err(ApiKeyError::Whitespace)));
    }
}
