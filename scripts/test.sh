#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian/Ubuntu machine and runs every test:
# formatting, lints, unit and integration tests (TLS against a local mutual-TLS server, the CLI
# binary, the real keyring on a private session bus), doc tests, and each benchmark once in
# test mode.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_build_deps
# A session bus and a Secret Service for the real-keyring tests.
ensure_debian_packages dbus gnome-keyring

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --locked --workspace --all-targets -- -D warnings
echo "== cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --locked --workspace --all-targets 2>&1 | tee "$log"
cargo test --locked --workspace --doc 2>&1 | tee -a "$log"
bash scripts/keyring-test.sh 2>&1 | tee -a "$log"

# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "%d passed, %d failed\n", p, f; exit (f > 0) }' "$log"
