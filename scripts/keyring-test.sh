#!/usr/bin/env bash
# Runs the keyring tests against real Secret Service: a private session bus with a fresh
# gnome-keyring (its own HOME, unlocked with a throwaway password), then once with no bus at all.
# Called by scripts/test.sh; needs dbus and gnome-keyring (installed there).
set -euo pipefail
cd "$(dirname "$0")/.."

# The toolchain stays where it is when HOME moves.
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
echo "== keyring: gnome-keyring on a private session bus"
HOME="$home" XDG_DATA_HOME="$home/.local/share" XDG_RUNTIME_DIR="$home" dbus-run-session -- bash -c '
  echo -n throwaway | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  cargo test --locked -p desk-runtime --test keyring -- --ignored --exact secrets_live_in_the_session_keyring
'
echo "== keyring: no session bus"
env -u DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR="$home/none" \
  cargo test --locked -p desk-runtime --test keyring -- --ignored --exact without_a_keyring_secrets_fall_back_to_the_file_with_a_warning
