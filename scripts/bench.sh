#!/usr/bin/env bash
# The benchmarks of BENCHMARKS.md, one command each (release build; numbers to stdout as
# Markdown tables):
#   ./scripts/bench.sh protocol   parse + verify of payment notifications, side by side with
#                                 wechatpy (installed from PyPI into a throwaway virtualenv)
#   ./scripts/bench.sh intake     payment notifications over HTTP at 1, 8, 64, 256 connections
#   ./scripts/bench.sh relay      notifications through the relay to a desk's alert at 64
#                                 connections, beside the direct intake
#   ./scripts/bench.sh refunds    1,000 approved refunds to SUCCESS at the rate limit
#   ./scripts/bench.sh growth     every user action from 10k to 1M orders, with query plans
#   ./scripts/bench.sh ui         the real window (release build, Xvfb) on 100,000 requests
#   ./scripts/bench.sh all
# Arguments after the name go to desk-bench (`desk-bench intake --count 5000`, see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_build_deps
what=${1:-all}
[ $# -gt 0 ] && shift
cargo build --locked --release -p desk-bench
bench=target/release/desk-bench

protocol() {
  if ! python3 -m venv --help >/dev/null 2>&1; then
    ensure_debian_packages python3 python3-venv
  fi
  local venv
  venv=$(mktemp -d)
  trap 'rm -rf "$venv"' RETURN
  echo "== wechatpy into a throwaway virtualenv ($venv)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "wechatpy[cryptography]==1.8.18"
  echo "== protocol: parse + verify, Merchant Desk and wechatpy on the same bodies" >&2
  "$bench" protocol --python "$venv/bin/python" "$@"
}

ui() {
  ensure_app_deps
  ensure_e2e_deps
  build_ui
  cargo build --locked --release -p merchant-desk
  echo "== ui: 100,000 refund requests in the real window" >&2
  MERCHANT_DESK_APP="$PWD/target/release/merchant-desk" \
    xvfb-run -a -s "-screen 0 1400x900x24" dbus-run-session -- \
    cargo test --locked -p merchant-desk-e2e --test scale -- --ignored --nocapture "$@"
}

case "$what" in
  protocol) protocol "$@" ;;
  ui) ui "$@" ;;
  intake | relay | refunds | growth) echo "== $what" >&2; "$bench" "$what" "$@" ;;
  all)
    protocol
    for name in intake relay refunds growth; do
      echo "== $name" >&2
      "$bench" "$name"
    done
    ui
    ;;
  *) echo "usage: $0 protocol|intake|relay|refunds|growth|ui|all [desk-bench options]" >&2; exit 2 ;;
esac
