#!/usr/bin/env bash
# Fuzzes everything a stranger can send the desk: the XML decoder, payment notifications
# (signature verification and decode), refund notifications (req_info decryption) and the
# backend's refund requests (signature + JSON). Each target runs SECONDS (default 30) from the
# committed corpus (fuzz/corpus/); new finds go to a scratch directory, a crash to
# fuzz/artifacts/<target>/ and fails the run. Called by scripts/test.sh with a short time.
#   ./scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_build_deps
ensure_cargo_fuzz
seconds="${1:-30}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(xml_decode xml_differential payment_notification refund_notification backend_request)
# The differential target starts from the decoder's corpus.
corpus_of() { case "$1" in xml_differential) echo corpus/xml_decode ;; *) echo "corpus/$1" ;; esac; }
cd fuzz
# No sanitizer: builds on the stable toolchain (coverage instrumentation only); -O: release.
cargo fuzz build -s none -O
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
  echo "== fuzz $target for ${seconds}s"
  mkdir -p "$scratch/$target"
  status=0
  cargo fuzz run -s none -O "$target" "$scratch/$target" "$(corpus_of "$target")" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$scratch/$target.log" 2>&1 || status=$?
  grep -E "^(Done|stat::number_of_executed_units|stat::new_units_added)" "$scratch/$target.log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$scratch/$target.log" >&2
    echo "fuzz $target found a failure: the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
done
