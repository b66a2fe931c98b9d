# Shared helpers for the scripts (run.sh, test.sh, e2e.sh). Sourced, not run.

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "error: installing packages needs root; run as root or install sudo" >&2
    exit 1
  fi
}

# Installs the Debian/Ubuntu packages given that are not installed yet (idempotent).
ensure_debian_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: missing packages (${missing[*]}) and no apt-get: install them by hand" >&2
    exit 1
  fi
  echo "Installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The Rust toolchain (rust-version in Cargo.toml), with rustfmt and clippy.
ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    echo "Installing the Rust toolchain with rustup (https://rustup.rs)"
    ensure_debian_packages curl ca-certificates
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component rustfmt,clippy
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  local need="1.90" have
  have=$(rustc --version | awk '{print $2}')
  if [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1)" != "$need" ]; then
    echo "error: Rust $have is older than $need; run: rustup update stable" >&2
    exit 1
  fi
}

# What building the workspace needs: a C compiler for ring, pkg-config.
ensure_build_deps() {
  ensure_debian_packages build-essential pkg-config ca-certificates
  ensure_rust
}

# What building the desktop app needs (WebKitGTK, GTK, the tray's appindicator, ALSA for the
# speaker) plus fonts that show Chinese and espeak-ng, the voice that reads amounts aloud.
ensure_app_deps() {
  ensure_debian_packages libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev \
    librsvg2-dev libssl-dev libxdo-dev libasound2-dev file fonts-wqy-microhei espeak-ng
}

# Node.js (20.19 or newer, for Vite) and the window's npm packages, exactly as locked.
ensure_ui_deps() {
  if ! command -v npm >/dev/null 2>&1; then
    ensure_debian_packages nodejs npm
  fi
  local have
  have=$(node --version | tr -d v)
  if [ "$(printf '%s\n%s\n' "20.19" "$have" | sort -V | head -n1)" != "20.19" ]; then
    echo "error: Node.js $have is older than 20.19, which the window's build (Vite) needs; install a newer Node.js (https://nodejs.org or NodeSource)" >&2
    exit 1
  fi
  if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    # `npm install` with the committed lock file: `npm ci` refuses locks that list only this
    # platform's optional rollup packages, which is what npm writes against the registry mirror.
    (cd ui && npm install --no-audit --no-fund)
  fi
}

# Builds the window into ui/dist (type-checked), which the app binary embeds.
build_ui() {
  ensure_ui_deps
  (cd ui && npm run build)
}

# What the end-to-end tests need: a virtual display, WebKitGTK's WebDriver, a notification
# daemon and the D-Bus tools, and tauri-driver (which starts the app for WebDriver).
TAURI_DRIVER_VERSION=2.1.0
ensure_e2e_deps() {
  ensure_debian_packages xvfb xauth webkit2gtk-driver dunst dbus
  if ! cargo install --list | grep -q "^tauri-driver v$TAURI_DRIVER_VERSION:"; then
    echo "Installing tauri-driver $TAURI_DRIVER_VERSION"
    cargo install tauri-driver --version "$TAURI_DRIVER_VERSION" --locked
  fi
}

# cargo-deny (supply-chain checks, deny.toml).
CARGO_DENY_VERSION=0.20.2
ensure_cargo_deny() {
  if ! cargo install --list | grep -q "^cargo-deny v$CARGO_DENY_VERSION:"; then
    echo "Installing cargo-deny $CARGO_DENY_VERSION"
    cargo install cargo-deny --version "$CARGO_DENY_VERSION" --locked
  fi
}

# cargo-fuzz (libFuzzer for Rust). Built without sanitizers it runs on the stable toolchain.
CARGO_FUZZ_VERSION=0.13.2
ensure_cargo_fuzz() {
  if ! cargo install --list | grep -q "^cargo-fuzz v$CARGO_FUZZ_VERSION:"; then
    echo "Installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
  fi
}

# Removes build directories no later stage needs, when MERCHANT_DESK_FREE_DISK=1 (set by .ci/run:
# a CI machine's disk may be small, and the debug, release and Windows builds together take
# several times what any one stage needs). A developer's run keeps them for the next build.
free_build_dirs() {
  [ "${MERCHANT_DESK_FREE_DISK:-}" = 1 ] || return 0
  local dir
  for dir in "$@"; do
    [ -d "$dir" ] || continue
    echo "freeing $(du -sh "$dir" | cut -f1) of disk: $dir (no later stage needs it)"
    rm -rf "$dir"
  done
}
