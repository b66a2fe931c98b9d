//! A PostgreSQL server of the tests' own: `initdb` into a temporary folder and `pg_ctl start`,
//! listening only on a Unix socket there, stopped when dropped. The binaries come from
//! Debian's `postgresql` package (`scripts/lib.sh` installs it), found on PATH or in
//! /usr/lib/postgresql/*/bin. PostgreSQL refuses to run as root, so under root it runs as the
//! package's `postgres` user.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_root: bool,
}

fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PG_BIN") {
        return PathBuf::from(dir);
    }
    if let Ok(path) = which("pg_ctl") {
        return path.parent().unwrap().to_owned();
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| {
            dirs.filter_map(|d| Some(d.ok()?.path().join("bin")))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|dir| dir.join("pg_ctl").exists());
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!("PostgreSQL is not installed: install Debian's postgresql package (scripts/lib.sh does) or set PG_BIN")
    })
}

fn which(program: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
        .map(|path| std::fs::canonicalize(&path).unwrap_or(path))
        .ok_or(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Ports for clusters of this test process, apart from other processes' (by pid).
fn next_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    20_000 + u16::try_from((std::process::id() * 7 + n) % 30_000).unwrap()
}

impl Cluster {
    pub fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let cluster = Cluster {
            bin: bin_dir(),
            port: next_port(),
            as_root: is_root(),
            dir,
        };
        if cluster.as_root {
            let status = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(cluster.dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let options = format!(
            "-k {} -p {} -c listen_addresses=''",
            cluster.dir.path().display(),
            cluster.port
        );
        let log = cluster.dir.path().join("postgres.log");
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &options,
                "-w",
                "-t",
                "120",
                "start",
            ],
        );
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, program: &str, args: &[&str]) {
        let binary = self.bin.join(program);
        let output = if self.as_root {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&binary)
                .args(args)
                .current_dir(self.dir.path())
                .output()
        } else {
            Command::new(&binary).args(args).output()
        }
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        assert!(
            output.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The address of database `name` (created first unless it is `postgres`).
    pub fn database(&self, name: &str) -> String {
        if name != "postgres" {
            let socket = self.dir.path().to_str().unwrap().to_owned();
            let port = self.port.to_string();
            self.run(
                "createdb",
                &["-h", &socket, "-p", &port, "-U", "postgres", name],
            );
        }
        format!(
            "host={} port={} user=postgres dbname={name}",
            self.dir.path().display(),
            self.port
        )
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let binary = self.bin.join("pg_ctl");
        let args = [
            "-D",
            data.to_str().unwrap(),
            "-m",
            "immediate",
            "-w",
            "stop",
        ];
        let _ = if self.as_root {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&binary)
                .args(args)
                .output()
        } else {
            Command::new(&binary).args(args).output()
        };
    }
}
