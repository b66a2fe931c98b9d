//! `config.toml` in the data directory: which mode, which merchant, the intake, refund policy.
//! Secrets are not here: the API key and certificate password live in the keyring (or the
//! fallback file), the sandbox's in the simulator's files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rand::Rng;
use serde::{Deserialize, Serialize};
use wxpay::SignType;

use crate::access::AccessConfig;
use crate::alerts::{AlertSettings, Language};
use crate::files::{FileError, read_optional, write_private};
use crate::relay::RelayConfig;
use crate::secrets::SecretBackend;

/// The intake's default address: loopback, so nothing outside this computer reaches it unless
/// the owner chooses to.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8720";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Sandbox until a merchant is set up and the owner switches.
    #[serde(default)]
    pub mode: Mode,
    pub merchant: Option<MerchantConfig>,
    pub intake: IntakeConfig,
    #[serde(default)]
    pub refunds: RefundPolicy,
    /// The UI's language, also used for desktop notifications.
    #[serde(default)]
    pub language: Language,
    #[serde(default)]
    pub alerts: AlertSettings,
    /// The owner PIN (hashed) and when it is always asked.
    #[serde(default)]
    pub access: AccessConfig,
    /// The shop's relay, when the desk reads WeChat's and the backend's messages there instead
    /// of listening itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<RelayConfig>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Mode {
    /// The in-process simulator with its generated merchant.
    #[default]
    Sandbox,
    /// The merchant in `[merchant]`, against WeChat Pay (or `api_base`).
    Production,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MerchantConfig {
    pub appid: String,
    pub mch_id: String,
    #[serde(default)]
    pub sign_type: SignType,
    pub certificate: CertificateConfig,
    /// Where the API key and certificate password were saved.
    pub secrets: SecretBackend,
    /// WeChat's API address; only set to reach a test server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
    /// One more trusted root CA (a test server's); public roots stay trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_ca: Option<PathBuf>,
}

/// `apiclient_cert.p12`, or the PEM pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum CertificateConfig {
    Pkcs12 { p12: PathBuf },
    Pem { cert_pem: PathBuf, key_pem: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeConfig {
    pub listen: SocketAddr,
    /// The address WeChat (through a tunnel or proxy) reaches the intake at, e.g.
    /// `https://shop.example.com/desk`; refund notifications are asked for there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Shared with the shop's backend, which signs refund requests with it.
    pub shared_secret: String,
    /// The secrets replaced by a new one, newest first (at most [`RETIRED_SECRETS`]): a request
    /// signed with one is refused and raises the alarm that the backend was not told.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_secrets: Vec<String>,
}

/// How many replaced shared secrets are remembered.
pub const RETIRED_SECRETS: usize = 3;

impl IntakeConfig {
    /// A new shared secret; the old one is remembered as replaced.
    pub fn replace_secret(&mut self) {
        let old = std::mem::replace(&mut self.shared_secret, Config::new().intake.shared_secret);
        self.retired_secrets.insert(0, old);
        self.retired_secrets.truncate(RETIRED_SECRETS);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundPolicy {
    /// After NOTENOUGH, refund from recharge funds (可用余额) instead of waiting.
    #[serde(default)]
    pub recharge_fallback: bool,
    /// Staff may approve refunds up to this many fen; above it the owner must.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_limit_fen: Option<i64>,
    /// The refund engine sends at most this many requests a second to WeChat Pay (refunds and
    /// refund queries together); WeChat allows a merchant about 150.
    #[serde(default = "default_requests_per_second")]
    pub max_requests_per_second: u32,
}

/// WeChat Pay's documented frequency limit for refund calls.
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 150;

fn default_requests_per_second() -> u32 {
    DEFAULT_REQUESTS_PER_SECOND
}

impl Default for RefundPolicy {
    fn default() -> Self {
        RefundPolicy {
            recharge_fallback: false,
            staff_limit_fen: None,
            max_requests_per_second: DEFAULT_REQUESTS_PER_SECOND,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    File(#[from] FileError),
    /// Not TOML, or a field of the wrong kind: where toml found it.
    #[error(
        "{path}, line {line}, column {column}: {message}. Fix it there, or delete the file to start over"
    )]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// It parses, but the desk cannot use a setting.
    #[error("{path} is not a valid configuration: {problem}. Fix or delete the file")]
    Invalid {
        path: PathBuf,
        problem: ConfigProblem,
    },
    #[error("cannot save the configuration: {0}")]
    Serialize(String),
}

impl Config {
    /// A new desk: sandbox, intake on loopback, a fresh shared secret.
    pub fn new() -> Config {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        Config {
            mode: Mode::Sandbox,
            merchant: None,
            intake: IntakeConfig {
                listen: DEFAULT_LISTEN
                    .parse()
                    .unwrap_or_else(|_| SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 8720))),
                public_url: None,
                shared_secret: hex::encode(secret),
                retired_secrets: Vec::new(),
            },
            refunds: RefundPolicy::default(),
            language: Language::default(),
            alerts: AlertSettings::default(),
            access: AccessConfig::default(),
            relay: None,
        }
    }

    /// Reads the file, or `None` when the desk has never been configured.
    pub fn load(path: &Path) -> Result<Option<Config>, ConfigError> {
        let Some(text) = read_optional(path)? else {
            return Ok(None);
        };
        let config: Config = toml::from_str(&text).map_err(|error| {
            let (line, column) = error
                .span()
                .map_or((1, 1), |span| line_and_column(&text, span.start));
            ConfigError::Syntax {
                path: path.to_owned(),
                line,
                column,
                message: error.message().to_owned(),
            }
        })?;
        config.validate().map_err(|problem| ConfigError::Invalid {
            path: path.to_owned(),
            problem,
        })?;
        Ok(Some(config))
    }

    /// Reads the file, creating a new configuration the first time.
    pub fn load_or_create(path: &Path) -> Result<Config, ConfigError> {
        match Config::load(path)? {
            Some(config) => Ok(config),
            None => {
                let config = Config::new();
                config.save(path)?;
                Ok(config)
            }
        }
    }

    /// Saves atomically, readable only by the user (the shared secret is in it).
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        // Never write a file the next start would refuse.
        self.validate().map_err(|problem| ConfigError::Invalid {
            path: path.to_owned(),
            problem,
        })?;
        let text =
            toml::to_string_pretty(self).map_err(|e| ConfigError::Serialize(e.to_string()))?;
        let text = format!(
            "# Merchant Desk configuration. The API key and certificate password are not here:\n\
             # they are in the system keyring (or secrets.json when there is none).\n\n{text}"
        );
        write_private(path, text.as_bytes())?;
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigProblem> {
        let staff_desk = self
            .relay
            .as_ref()
            .is_some_and(|relay| relay.staff.is_some());
        if self.mode == Mode::Production && self.merchant.is_none() && !staff_desk {
            return Err(ConfigProblem::ProductionWithoutMerchant);
        }
        if self.intake.shared_secret.len() < 16 {
            return Err(ConfigProblem::ShortSharedSecret);
        }
        if self.refunds.staff_limit_fen.is_some_and(|limit| limit <= 0) {
            return Err(ConfigProblem::StaffLimitNotPositive);
        }
        if self.refunds.max_requests_per_second == 0 {
            return Err(ConfigProblem::NoRequestsPerSecond);
        }
        if self
            .access
            .always_ask_above_fen
            .is_some_and(|above| above < 0)
        {
            return Err(ConfigProblem::AlwaysAskNegative);
        }
        if let Some(quiet) = &self.alerts.quiet_hours
            && quiet.minutes().is_none()
        {
            return Err(ConfigProblem::QuietHours);
        }
        if let Some(merchant) = &self.merchant {
            wxpay::AppId::new(merchant.appid.as_str()).map_err(ConfigProblem::AppId)?;
            wxpay::MchId::new(merchant.mch_id.as_str()).map_err(ConfigProblem::MchId)?;
        }
        Ok(())
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |last| last.chars().count())
        + 1;
    (line, column)
}

/// A setting the file parses but the desk cannot use.
#[derive(Debug, thiserror::Error)]
pub enum ConfigProblem {
    #[error("mode is \"production\" but there is no [merchant] section")]
    ProductionWithoutMerchant,
    #[error("intake.shared_secret must be at least 16 characters")]
    ShortSharedSecret,
    #[error("refunds.staff_limit_fen must be a positive number of fen")]
    StaffLimitNotPositive,
    #[error("refunds.max_requests_per_second must be at least 1 (WeChat Pay allows about 150)")]
    NoRequestsPerSecond,
    #[error("access.always_ask_above_fen must not be negative")]
    AlwaysAskNegative,
    #[error("alerts.quiet_hours needs from and to as \"HH:MM\" (00:00 to 23:59)")]
    QuietHours,
    #[error("merchant.appid: {0}")]
    AppId(wxpay::IdError),
    #[error("merchant.mch_id: {0}")]
    MchId(wxpay::IdError),
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn load(text: &str) -> ConfigError {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(&path).unwrap_err()
    }

    #[test]
    fn a_mistake_in_the_file_is_named_with_its_line_and_column() {
        let mut text = toml::to_string(&Config::new()).unwrap();
        text.push_str("\n[refunds]\nstaff_limit_fen = \"五十\"\n");
        let line = text.lines().count();
        match load(&text) {
            ConfigError::Syntax {
                line: at, column, ..
            } => {
                // The duplicate [refunds] table, or the string where a number goes: either
                // way toml points into the lines just added.
                assert!(at >= line - 1 && at <= line, "line {at} of {line}");
                assert!(column >= 1);
            }
            other => panic!("{other}"),
        }
        let error = load("mode = \"sandbox\"\nlanguage = 7\n");
        let said = error.to_string();
        assert!(said.contains("line 2, column 12"), "{said}");
    }

    #[test]
    fn a_setting_the_desk_cannot_use_is_named() {
        let mut config = Config::new();
        config.refunds.max_requests_per_second = 0;
        let text = toml::to_string(&config).unwrap();
        let error = load(&text);
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    problem: ConfigProblem::NoRequestsPerSecond,
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("max_requests_per_second"));
    }

    #[test]
    fn columns_count_characters() {
        // The x after the two Chinese characters (three bytes each).
        assert_eq!(line_and_column("a = 1\nb = \"五十\" x", 19), (2, 10));
        // Inside a character: counted from its start.
        assert_eq!(line_and_column("a = 1\nb = \"五十\" x", 16), (2, 7));
        assert_eq!(line_and_column("", 0), (1, 1));
        assert_eq!(line_and_column("五", 1), (1, 1));
    }
}
