#!/usr/bin/env bash
# Builds the installable app into target/bundles/:
#   merchant-desk_VERSION_amd64.deb          (Tauri's bundler: the app, its icons, a desktop entry)
#   Merchant_Desk-VERSION-x86_64.AppImage    (the same files and an AppImage runtime)
# `scripts/bundle.sh windows` builds the Windows installer instead, cross-compiled here:
#   Merchant_Desk-VERSION-x64-setup.exe      (NSIS: the app and its WebView2 loader, per user)
# The AppImage carries the app and its icons and uses the system's WebKitGTK 4.1, GTK 3 and
# ALSA (Debian 12+, Ubuntu 22.04+ have them); Tauri's own AppImage step downloads its tools from
# GitHub, which this project's machines cannot reach, so the AppImage is put together here from
# AppImageKit's type 2 runtime as the `appimage` crate on crates.io ships it (checksum pinned).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_build_deps
ensure_app_deps
ensure_debian_packages squashfs-tools curl
ensure_ui_deps

version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' tauri.conf.json)
out=target/bundles
mkdir -p "$out"

if [ "${1:-}" = windows ]; then
  # The Rust standard library for Windows comes from rustup's server, MinGW-w64 (the C compiler
  # for ring and SQLite, and the linker) and NSIS from Debian. The GNU target, not MSVC: the
  # MSVC libraries come only from Microsoft's servers.
  ensure_debian_packages gcc-mingw-w64-x86-64 nsis
  rustup target add x86_64-pc-windows-gnu
  echo "== bundle: the Windows installer (cross-compiled for x86_64-pc-windows-gnu)"
  build_ui
  cargo build --release --locked --target x86_64-pc-windows-gnu -p merchant-desk
  staging=$(mktemp -d)
  trap 'rm -rf "$staging"' EXIT
  cp target/x86_64-pc-windows-gnu/release/merchant-desk.exe icons/icon.ico "$staging/"
  # The loader the app links (webview2-com-sys ships it; the runtime itself is Windows's).
  loader=$(cargo metadata --locked --format-version 1 | python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"] == "webview2-com-sys"))')
  cp "$(dirname "$loader")/x64/WebView2Loader.dll" "$staging/"
  installer="$out/Merchant_Desk-${version}-x64-setup.exe"
  makensis -V2 -DVERSION="$version" -DBUILD="$staging" -DOUT="$PWD/$installer" \
    src-tauri/packaging/windows-installer.nsi
  ls -l "$installer"
  exit 0
fi

echo "== bundle: the .deb (release build, Tauri's bundler)"
# The CLI reads src-tauri/tauri.conf.json (a link to the root one); it builds the window first.
(cd src-tauri && ../ui/node_modules/.bin/tauri build --bundles deb --ci)
deb="$out/merchant-desk_${version}_amd64.deb"
cp "target/release/bundle/deb/Merchant Desk_${version}_amd64.deb" "$deb"

echo "== bundle: the AppImage"
runtime_crate=appimage-0.4.0.crate
runtime_sha256=567a4da6b94a2ac20a27620933c80fc14cf475b5fe7d7b137d20eb237d6b1920
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
curl -sSfL -o "$work/$runtime_crate" "https://static.crates.io/crates/appimage/$runtime_crate"
echo "$runtime_sha256  $work/$runtime_crate" | sha256sum -c --quiet
tar -xzf "$work/$runtime_crate" -C "$work" appimage-0.4.0/assets/runtime-x86_64
appdir="$work/Merchant_Desk.AppDir"
mkdir -p "$appdir"
dpkg-deb -x "$deb" "$appdir"
cp "$appdir/usr/share/applications/Merchant Desk.desktop" "$appdir/merchant-desk.desktop"
cp "$appdir/usr/share/icons/hicolor/512x512/apps/merchant-desk.png" "$appdir/merchant-desk.png"
ln -s merchant-desk.png "$appdir/.DirIcon"
cat > "$appdir/AppRun" <<'APPRUN'
#!/bin/sh
# Starts the app from inside the AppImage; it finds its window files in the binary itself.
here=$(dirname "$(readlink -f "$0")")
exec "$here/usr/bin/merchant-desk" "$@"
APPRUN
chmod 755 "$appdir/AppRun"
mksquashfs "$appdir" "$work/app.squashfs" -root-owned -noappend -quiet -no-progress -comp gzip
appimage="$out/Merchant_Desk-${version}-x86_64.AppImage"
cat "$work/appimage-0.4.0/assets/runtime-x86_64" "$work/app.squashfs" > "$appimage"
chmod 755 "$appimage"

ls -l "$deb" "$appimage"
