//! The systemd unit shipped in `dist/` is one systemd accepts, and starts the relay as built.

#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn the_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dist/merchant-desk-relay.service"
    ))
    .unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/merchant-desk-relay serve\n"));
    // The state directory is where `serve` keeps its SQLite database by default.
    assert!(unit.contains("StateDirectory=merchant-desk-relay\n"));
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("merchant-desk-relay.service");
    let built = env!("CARGO_BIN_EXE_merchant-desk-relay");
    std::fs::write(
        &copy,
        unit.replace("/usr/local/bin/merchant-desk-relay", built),
    )
    .unwrap();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze (Debian's systemd package; scripts/test.sh installs it)");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && said.trim().is_empty(), "{said}");
}
