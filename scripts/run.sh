#!/usr/bin/env bash
# Installs what Merchant Desk needs on a fresh Debian/Ubuntu machine, builds it and runs it.
# Until the desktop app lands, this runs `merchant-desk-cli`: pass its arguments after the
# script (for example `./scripts/run.sh sign --key KEY appid=... mch_id=...`); with none, it
# shows what the CLI can do with WeChat's documented example.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_build_deps

cargo build --release --locked -p merchant-desk-cli
cli=target/release/merchant-desk-cli
if [ $# -gt 0 ]; then
  exec "$cli" "$@"
fi

"$cli" --help
echo
echo "Example: WeChat's documented signature (expect 9A0A8659F005D6984697E2CA0A9CF3B7):"
echo "  $cli sign --key 192006250b4c09247ec02edce69f6a2d appid=wxd930ea5d5a258f4f mch_id=10000100 device_info=1000 body=test nonce_str=ibuaiVcKdpRxkhJA"
"$cli" sign --key 192006250b4c09247ec02edce69f6a2d appid=wxd930ea5d5a258f4f mch_id=10000100 \
  device_info=1000 body=test nonce_str=ibuaiVcKdpRxkhJA
