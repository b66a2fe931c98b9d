#!/usr/bin/env bash
# End-to-end tests of the real app window: builds the app (embedding the built window), then
# drives it through tauri-driver and WebKitWebDriver on a virtual display (Xvfb), with its own
# session bus and a notification daemon (dunst), against the embedded sandbox simulator.
# Writes the README's screenshots to docs/screenshots/, then runs the UI benchmark once on a small
# queue (its numbers are not checked). Called by scripts/test.sh; runs alone too.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_build_deps
ensure_app_deps
ensure_e2e_deps
# test.sh has just built the window; run alone, this builds it.
[ "${MERCHANT_DESK_UI_BUILT:-}" = 1 ] || build_ui
echo "== end to end: building the app"
cargo build --locked -p merchant-desk
echo "== end to end: the real window under Xvfb"
# The bus is started inside the display so that services it starts (dunst) can show. Xvfb
# keeps its screen in a file the tests read (what the window put on the display).
framebuffer=$(mktemp -d)
trap 'rm -rf "$framebuffer"' EXIT
E2E_FRAMEBUFFER="$framebuffer/Xvfb_screen0" \
  xvfb-run -a -s "-screen 0 1400x900x24 -fbdir $framebuffer" dbus-run-session -- \
  cargo test --locked -p merchant-desk-e2e --test window --test setup -- --ignored --test-threads=1 "$@"
echo "== end to end: the UI benchmark once, on a small queue (paging and search in the real window)"
UI_BENCH_REQUESTS=2000 xvfb-run -a -s "-screen 0 1400x900x24" dbus-run-session -- \
  cargo test --locked -p merchant-desk-e2e --test scale -- --ignored --nocapture
