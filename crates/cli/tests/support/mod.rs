//! Shared by the campaigns (`chaos`, `storm`): the CLI binary, a desk set up against a
//! simulator as a real merchant would be, and the desk as a process that can be stopped, killed
//! and started again on the same data directory and address.

#![allow(dead_code)] // each test binary uses its own part

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use wxpay_sim::SimHandle;

pub const BIN: &str = env!("CARGO_BIN_EXE_merchant-desk-cli");

pub fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .envs(switch_of(dir))
        .env("MERCHANT_DESK_KEYRING", "off")
        .env_remove("MERCHANT_DESK_DATA_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A `--json` command's answer; a failure fails the test with its message.
pub fn cli_json(dir: &Path, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    let output = cli(dir, &args);
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// `setup` with the simulator's merchant (production mode, the simulator as WeChat), the intake
/// on `listen` and asking WeChat for refund notifications there. Returns the intake's shared
/// secret.
pub fn production_desk(sim: &SimHandle, dir: &Path, listen: SocketAddr) -> String {
    let setup = setup_command(sim, dir, &sim.credentials().files.cert_p12)
        .env("WXPAY_API_KEY", sim.credentials().api_key.expose())
        .output()
        .unwrap();
    assert!(
        setup.status.success(),
        "{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    intake_at(dir, listen)
}

/// `setup` for the simulator's merchant with the certificate in `p12`, talking to the simulator;
/// the caller adds `WXPAY_API_KEY` (and `WXPAY_CERT_PASSWORD`).
pub fn setup_command(sim: &SimHandle, dir: &Path, p12: &Path) -> Command {
    let c = sim.credentials();
    let mut command = Command::new(BIN);
    command
        .args([
            "setup",
            "--appid",
            c.appid.as_str(),
            "--mch-id",
            c.mch_id.as_str(),
        ])
        .arg("--p12")
        .arg(p12)
        .envs(dev_switch(sim))
        .arg("--data-dir")
        .arg(dir)
        .env("MERCHANT_DESK_KEYRING", "off")
        .env_remove("WXPAY_CERT_PASSWORD");
    command
}

/// The developer switch that lets a desk talk to the simulator acting as WeChat Pay (a desk
/// refuses a test server without it).
pub fn dev_switch(sim: &SimHandle) -> [(&'static str, String); 2] {
    [
        ("MERCHANT_DESK_DEV_WECHAT", sim.info().base_url.clone()),
        (
            "MERCHANT_DESK_DEV_WECHAT_CA",
            sim.credentials().files.ca_pem.display().to_string(),
        ),
    ]
}

/// The developer switch a desk set up with [`dev_switch`] runs with (none for others).
pub fn switch_of(dir: &Path) -> Vec<(&'static str, String)> {
    let config = desk_runtime::Config::load(&dir.join("config.toml"))
        .ok()
        .flatten();
    // A staff desk of a relay keeps its test server beside the merchant its owner named.
    let server = config.and_then(|c| {
        c.merchant.map(|m| (m.api_base, m.extra_ca)).or_else(|| {
            c.relay
                .and_then(|r| r.staff)
                .map(|s| (s.api_base, s.extra_ca))
        })
    });
    match server {
        Some((Some(base), extra_ca)) => {
            let mut env = vec![("MERCHANT_DESK_DEV_WECHAT", base)];
            env.extend(
                extra_ca.map(|ca| ("MERCHANT_DESK_DEV_WECHAT_CA", ca.display().to_string())),
            );
            env
        }
        _ => Vec::new(),
    }
}

/// Points the desk's intake at `listen` and asks WeChat for refund notifications there; returns
/// the intake's shared secret.
pub fn intake_at(dir: &Path, listen: SocketAddr) -> String {
    let path = dir.join("config.toml");
    let mut config = desk_runtime::Config::load(&path).unwrap().unwrap();
    config.intake.listen = listen;
    config.intake.public_url = Some(format!("http://{listen}"));
    config.save(&path).unwrap();
    config.intake.shared_secret
}

/// `serve --json` as a separate process; every line it prints is kept in `events`, with the
/// number of the run (start) that printed it as `"run"`.
pub struct DeskProcess {
    pub dir: PathBuf,
    pub listen: SocketAddr,
    logs: PathBuf,
    child: Option<Child>,
    /// Reads the running desk's output; done when the desk has exited and all is read.
    reader: Option<std::thread::JoinHandle<()>>,
    pub events: Arc<Mutex<Vec<Value>>>,
    pub starts: usize,
    pub kills: usize,
    /// A command the desk is started through (e.g. `prlimit --nofile=1024:1024`).
    pub through: Vec<String>,
}

impl DeskProcess {
    pub fn new(dir: PathBuf, listen: SocketAddr, logs: PathBuf) -> DeskProcess {
        std::fs::create_dir_all(&logs).unwrap();
        DeskProcess {
            dir,
            listen,
            logs,
            child: None,
            reader: None,
            events: Arc::default(),
            starts: 0,
            kills: 0,
            through: Vec::new(),
        }
    }

    /// Starts the desk and waits until its intake listens.
    pub fn start(&mut self) {
        self.starts += 1;
        let log_path = self.logs.join(format!("serve-{}.log", self.starts));
        let mut command = match self.through.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(BIN);
                command
            }
            None => Command::new(BIN),
        };
        let mut child = command
            .args(["serve", "--json", "--listen", &self.listen.to_string()])
            .arg("--data-dir")
            .arg(&self.dir)
            .envs(switch_of(&self.dir))
            .env("MERCHANT_DESK_KEYRING", "off")
            .stdout(Stdio::piped())
            .stderr(File::create(&log_path).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let events = self.events.clone();
        let run = self.starts;
        let (ready, started) = std::sync::mpsc::channel();
        self.reader = Some(std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(mut value) = serde_json::from_str::<Value>(&line) {
                    value["run"] = run.into();
                    if value["type"] == "ready" {
                        let _ = ready.send(());
                    }
                    events.lock().unwrap().push(value);
                }
            }
        }));
        self.child = Some(child);
        // "ready" comes once the intake listens and stop signals are handled.
        let deadline = Instant::now() + Duration::from_secs(30);
        while started.recv_timeout(Duration::from_millis(20)).is_err() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "the desk exited on start ({status}): {}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "the desk did not listen in 30 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The running desk's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
            self.kills += 1;
        }
        self.finish_reading();
    }

    fn finish_reading(&mut self) {
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
    }

    /// SIGTERM, as a service manager stops it; it must exit cleanly.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            Command::new("kill").args(["-TERM", &pid]).status().unwrap();
            let status = child.wait().unwrap();
            assert!(status.success(), "the desk stopped with {status}");
        }
        self.finish_reading();
    }

    /// The alert lines printed so far, in order.
    pub fn alerts(&self) -> Vec<Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|event| event["type"] == "alert")
            .cloned()
            .collect()
    }
}

/// The TCP ports process `pid` listens on (Linux: its socket inodes in /proc/net/tcp{,6}).
pub fn listening_ports(pid: u32) -> Vec<u16> {
    let sockets: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_owned(),
            )
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address, st (0A: LISTEN), inode
            if fields.len() > 9 && fields[3] == "0A" && sockets.contains(fields[9]) {
                let port = fields[1].rsplit(':').next().unwrap();
                ports.push(u16::from_str_radix(port, 16).unwrap());
            }
        }
    }
    ports
}

impl Drop for DeskProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
