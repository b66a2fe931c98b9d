#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian/Ubuntu machine and runs every test:
# formatting, lints, unit and integration tests (TLS against a local mutual-TLS server, the
# CLI binary), doc tests, and each benchmark once in test mode.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_build_deps

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --locked --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --locked --workspace --all-targets
cargo test --locked --workspace --doc
