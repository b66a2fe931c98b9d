#!/usr/bin/env bash
# Supply-chain checks (deny.toml): duplicate versions, licences and sources of every crate, always;
# RustSec advisories and npm's audit of the window's runtime dependencies wherever their
# databases can be reached. A finding fails the run; an unreachable database is said loudly,
# since it means the advisories were not checked. Called by scripts/test.sh; runs alone too.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_cargo_deny

echo "== supply chain: duplicate versions, licences, sources (cargo deny)"
cargo deny --locked check bans licenses sources

echo "== supply chain: RustSec advisories (cargo deny)"
if timeout 30 git ls-remote https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
  cargo deny check advisories
else
  echo "WARNING: RustSec's advisory database (github.com/rustsec/advisory-db) cannot be reached"
  echo "WARNING: from this machine: Rust advisories were NOT checked"
fi

echo "== supply chain: npm audit of the window's runtime dependencies"
audit=$(mktemp)
trap 'rm -f "$audit"' EXIT
if (cd ui && npm audit --omit=dev >"$audit" 2>&1); then
  cat "$audit"
elif grep -q "audit endpoint returned an error\|ENOTFOUND\|EAI_AGAIN\|ECONNREFUSED" "$audit"; then
  grep -m1 "npm warn audit\|npm error" "$audit" || true
  echo "WARNING: npm's audit endpoint cannot be used from this machine: npm advisories were NOT checked"
else
  cat "$audit"
  exit 1
fi
