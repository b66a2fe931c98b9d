#!/usr/bin/env bash
# Installs what Merchant Desk needs on a fresh Debian/Ubuntu machine, builds it and runs it.
# With no arguments: the desktop app. On first start without merchant credentials it opens in
# the sandbox (the built-in WeChat Pay simulator, with demo orders every few seconds).
# With arguments: the headless `merchant-desk-cli` (e.g. `./scripts/run.sh serve --sandbox`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_build_deps

if [ $# -gt 0 ]; then
  cargo build --release --locked -p merchant-desk-cli
  exec target/release/merchant-desk-cli "$@"
fi

ensure_app_deps
build_ui
cargo build --release --locked -p merchant-desk
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "error: no display to open the window on. On a server, run the desk headless: ./scripts/run.sh serve --sandbox --demo-every 5" >&2
  exit 1
fi
exec target/release/merchant-desk
