#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian/Ubuntu machine and runs every test:
# formatting, lints, supply-chain checks (deny.toml; advisories where reachable), unit and integration tests (TLS against a local mutual-TLS server, the CLI
# binary, the real keyring on a private session bus, the app's generated TypeScript bindings),
# doc tests, each benchmark once in test mode, the window's tests in headless Chromium, and the
# real app window driven end to end under Xvfb (which also refreshes docs/screenshots/), the
# installable app (bundled, installed with apt, run end to end, removed), and a bounded fuzzing
# run over everything a stranger can send the desk.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_build_deps
# A session bus and a Secret Service for the real-keyring tests; Chromium for the UI tests;
# PostgreSQL for the relay's store tests (they start a server of their own, as the `postgres`
# user under root: runuser is util-linux's); systemd-analyze checks the relay's unit file.
ensure_debian_packages dbus gnome-keyring chromium postgresql util-linux systemd
ensure_app_deps
# The app binary embeds the built window, so it is built (and type-checked) first.
echo "== the window: type check and build"
build_ui

echo "== cargo fmt --check"
cargo fmt --all -- --check
(cd fuzz && cargo fmt -- --check)
echo "== cargo clippy -D warnings"
cargo clippy --locked --workspace --all-targets -- -D warnings
bash scripts/supply-chain.sh
echo "== cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --locked --workspace --all-targets 2>&1 | tee "$log"
cargo test --locked --workspace --doc 2>&1 | tee -a "$log"
bash scripts/keyring-test.sh 2>&1 | tee -a "$log"
echo "== the real window, end to end (tauri-driver, Xvfb, session bus)"
MERCHANT_DESK_UI_BUILT=1 bash scripts/e2e.sh 2>&1 | tee -a "$log"
echo "== the installable app: .deb and AppImage built, the .deb installed, run end to end, removed"
bash scripts/install-test.sh 2>&1 | tee -a "$log"
echo "== the window in headless Chromium (fake IPC)"
(cd ui && npm test) 2>&1 | tee -a "$log"
# The Windows build and its build scripts (compiled for this machine, into target/release).
free_build_dirs target/x86_64-pc-windows-gnu target/release
echo "== fuzzing, bounded (20 s a target; ./scripts/fuzz.sh 600 for a long run)"
bash scripts/fuzz.sh 20

# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     /^# pass [0-9]+$/ { p += $3 } /^# fail [0-9]+$/ { f += $3 }
     END { printf "%d passed, %d failed\n", p, f; exit (f > 0) }' "$log"
