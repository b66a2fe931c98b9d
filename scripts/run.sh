#!/usr/bin/env bash
# Installs what Merchant Desk needs on a fresh Debian/Ubuntu machine, builds it and runs it.
# Until the desktop app lands, this runs the desk headless: with no arguments, `serve --sandbox`
# with demo traffic (the built-in WeChat Pay simulator: orders paid every few seconds, a refund
# request now and then; approve them with `./scripts/run.sh refunds approve ID --by NAME` in a
# second terminal). With arguments, it runs `merchant-desk-cli` with them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_build_deps

cargo build --release --locked -p merchant-desk-cli
cli=target/release/merchant-desk-cli
if [ $# -gt 0 ]; then
  exec "$cli" "$@"
fi

echo "Sandbox: no real money moves. In another terminal: ./scripts/run.sh refunds list"
exec "$cli" serve --sandbox --demo-every 5
