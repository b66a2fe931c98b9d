//! How this copy of the app was started: command-line options, else environment variables
//! (for tests, for shops with several merchants, and for power users).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use desk_runtime::{
    DATA_DIR_ENV, DEV_WECHAT_CA_ENV, DEV_WECHAT_ENV, DataDir, StartOptions, WechatServer,
};

pub const DEMO_ENV: &str = "MERCHANT_DESK_DEMO";
pub const LISTEN_ENV: &str = "MERCHANT_DESK_LISTEN";
/// Sandbox demo traffic: an order paid every few seconds.
pub const DEMO_EVERY: Duration = Duration::from_secs(5);

pub const USAGE: &str = "\
usage: merchant-desk [--data-dir DIR] [--demo off|SECONDS] [--listen ADDRESS]

  --data-dir DIR      where the queue, settings and certificates live
                      (default: the user's data directory; env MERCHANT_DESK_DATA_DIR)
  --demo off|SECONDS  sandbox demo traffic: an order every SECONDS (default 5), or none
                      (env MERCHANT_DESK_DEMO)
  --listen ADDRESS    the intake's address instead of the configured one, e.g. 127.0.0.1:0
                      (env MERCHANT_DESK_LISTEN)

  env MERCHANT_DESK_COMPOSITING=on  draw the window with WebKit's accelerated compositing
                      (off by default: without a GPU it redraws the whole window each frame)
";

#[derive(Debug, Clone)]
pub struct Launch {
    pub data_dir: DataDir,
    pub demo: Option<Duration>,
    pub listen: Option<SocketAddr>,
    /// Where a merchant set up in the window reaches WeChat Pay: the real one unless the
    /// developer switch names a test server.
    pub wechat: WechatServer,
}

/// Why the command line (or its environment) cannot be used; printed with [`USAGE`].
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("unknown option {0}")]
    UnknownOption(String),
    #[error("{0} needs a value")]
    MissingValue(String),
    #[error("the demo setting {0} is neither off nor a number of seconds")]
    Demo(String),
    #[error("the intake address {0} is not an address like 127.0.0.1:8720")]
    Listen(String),
    #[error(transparent)]
    DataDir(#[from] desk_runtime::FileError),
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    Run(Launch),
    Help,
}

impl Launch {
    /// Reads the options from `args` (without the program name), falling back to `env`.
    /// The error says what was wrong; the caller prints it with [`USAGE`].
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Invocation, LaunchError> {
        let (mut data_dir, mut demo, mut listen) =
            (env(DATA_DIR_ENV), env(DEMO_ENV), env(LISTEN_ENV));
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (arg.clone(), None),
            };
            let slot = match name.as_str() {
                "-h" | "--help" => return Ok(Invocation::Help),
                "--data-dir" => &mut data_dir,
                "--demo" => &mut demo,
                "--listen" => &mut listen,
                _ => return Err(LaunchError::UnknownOption(arg)),
            };
            let value = inline
                .or_else(|| args.next())
                .ok_or(LaunchError::MissingValue(name))?;
            *slot = Some(value);
        }
        let data_dir = DataDir::resolve(data_dir.filter(|d| !d.is_empty()).map(PathBuf::from))?;
        Ok(Invocation::Run(Launch {
            data_dir,
            demo: demo.as_deref().map_or(Ok(Some(DEMO_EVERY)), parse_demo)?,
            listen: listen
                .map(|addr| addr.parse().map_err(|_| LaunchError::Listen(addr)))
                .transpose()?,
            wechat: WechatServer {
                api_base: env(DEV_WECHAT_ENV).filter(|v| !v.is_empty()),
                extra_ca: env(DEV_WECHAT_CA_ENV)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from),
            },
        }))
    }

    pub fn start_options(&self) -> StartOptions {
        let mut options = StartOptions::new(self.data_dir.clone());
        options.demo = self.demo;
        options.listen = self.listen;
        options
    }
}

fn parse_demo(value: &str) -> Result<Option<Duration>, LaunchError> {
    match value {
        "off" | "0" => Ok(None),
        seconds => match seconds.parse::<u64>() {
            Ok(seconds) => Ok(Some(Duration::from_secs(seconds))),
            Err(_) => Err(LaunchError::Demo(value.to_owned())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Launch, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        match Launch::parse(args.iter().map(|a| (*a).to_owned()), lookup)
            .map_err(|e| e.to_string())?
        {
            Invocation::Run(launch) => Ok(launch),
            Invocation::Help => Err("help".into()),
        }
    }

    #[test]
    fn options_win_over_the_environment() {
        let launch = parse(
            &[
                "--data-dir",
                "/tmp/shop-a",
                "--demo=off",
                "--listen",
                "127.0.0.1:0",
            ],
            &[(DATA_DIR_ENV, "/tmp/shop-b"), (DEMO_ENV, "9")],
        )
        .unwrap();
        assert_eq!(launch.data_dir.root(), std::path::Path::new("/tmp/shop-a"));
        assert_eq!(launch.demo, None);
        assert_eq!(launch.listen, Some("127.0.0.1:0".parse().unwrap()));
    }

    #[test]
    fn the_environment_is_read_when_no_option_is_given() {
        let launch = parse(&[], &[(DATA_DIR_ENV, "/tmp/shop-b"), (DEMO_ENV, "9")]).unwrap();
        assert_eq!(launch.data_dir.root(), std::path::Path::new("/tmp/shop-b"));
        assert_eq!(launch.demo, Some(Duration::from_secs(9)));
        assert_eq!(launch.listen, None);
    }

    #[test]
    fn demo_traffic_is_on_by_default() {
        let launch = parse(&["--data-dir", "/tmp/x"], &[]).unwrap();
        assert_eq!(launch.demo, Some(DEMO_EVERY));
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(
            parse(&["--colour"], &[]).unwrap_err(),
            "unknown option --colour"
        );
        assert_eq!(
            parse(&["--data-dir"], &[]).unwrap_err(),
            "--data-dir needs a value"
        );
        assert!(
            parse(&["--demo", "soon"], &[])
                .unwrap_err()
                .contains("neither off nor")
        );
        assert!(
            parse(&["--listen", "localhost"], &[])
                .unwrap_err()
                .contains("127.0.0.1:8720")
        );
        assert_eq!(parse(&["--help"], &[]).unwrap_err(), "help");
    }
}
