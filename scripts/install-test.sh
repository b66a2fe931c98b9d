#!/usr/bin/env bash
# The installable app as a shop owner gets it: bundles it (scripts/bundle.sh), installs the
# .deb with apt, checks the installed files (binary, desktop entry, icons), launches the
# installed binary under Xvfb and runs one end-to-end flow against it (a sandbox refund request
# approved by clicking → refunded once in the simulator's ledger), then removes the package and
# checks nothing of it is left. The AppImage is opened (its files listed) and started once; the
# Windows installer is cross-compiled and its contents listed.
# Called by scripts/test.sh; runs alone too.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_e2e_deps
bash scripts/bundle.sh
# The packages are in target/bundles; the release build they came from is not needed again.
free_build_dirs target/release
version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' tauri.conf.json)
deb="$PWD/target/bundles/merchant-desk_${version}_amd64.deb"
appimage="$PWD/target/bundles/Merchant_Desk-${version}-x86_64.AppImage"

remove() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq --purge merchant-desk >/dev/null
}
trap 'remove 2>/dev/null || true' EXIT

echo "== install: apt installs the .deb with its dependencies"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >/dev/null
installed=$(dpkg-query -W -f='${Version} ${Status}' merchant-desk)
[ "$installed" = "$version install ok installed" ] || { echo "error: dpkg says: $installed" >&2; exit 1; }
for file in /usr/bin/merchant-desk "/usr/share/applications/Merchant Desk.desktop" \
  /usr/share/icons/hicolor/128x128/apps/merchant-desk.png; do
  [ -e "$file" ] || { echo "error: the package did not install $file" >&2; exit 1; }
done
grep -q '^Name\[zh_CN\]=商户退款台$' "/usr/share/applications/Merchant Desk.desktop"
grep -q '^Exec=merchant-desk$' "/usr/share/applications/Merchant Desk.desktop"
/usr/bin/merchant-desk --help | grep -q -- "--data-dir"
echo "installed: merchant-desk $version, its desktop entry and icons"

echo "== install: the installed app, end to end (sandbox approve → refunded)"
framebuffer=$(mktemp -d)
MERCHANT_DESK_APP=/usr/bin/merchant-desk E2E_FRAMEBUFFER="$framebuffer/Xvfb_screen0" \
  xvfb-run -a -s "-screen 0 1400x900x24 -fbdir $framebuffer" dbus-run-session -- \
  cargo test --locked -p merchant-desk-e2e --test window -- --ignored --test-threads=1 --exact \
  a_request_posted_to_the_intake_is_refunded_by_clicking_and_settles_in_the_ledger
rm -rf "$framebuffer"

echo "== install: apt removes it, leaving nothing behind"
remove
trap - EXIT
if dpkg-query -W -f='${Status}' merchant-desk 2>/dev/null | grep -q "install ok installed"; then
  echo "error: merchant-desk is still installed" >&2
  exit 1
fi
for file in /usr/bin/merchant-desk "/usr/share/applications/Merchant Desk.desktop" \
  /usr/share/icons/hicolor/128x128/apps/merchant-desk.png; do
  [ ! -e "$file" ] || { echo "error: $file is left after removal" >&2; exit 1; }
done
echo "removed: no file of the package is left"

echo "== the AppImage: a type 2 image whose files and start are right"
[ "$(head -c 11 "$appimage" | tail -c 3 | od -An -tx1 | tr -d ' \n')" = "414902" ] \
  || { echo "error: no AppImage type 2 magic in $appimage" >&2; exit 1; }
listing=$(cd "$(mktemp -d)" && "$appimage" --appimage-extract >/dev/null && find squashfs-root -maxdepth 3 | sort)
for entry in squashfs-root/AppRun squashfs-root/merchant-desk.desktop squashfs-root/usr/bin/merchant-desk; do
  grep -qx "$entry" <<<"$listing" || { echo "error: the AppImage lacks $entry" >&2; exit 1; }
done
APPIMAGE_EXTRACT_AND_RUN=1 "$appimage" --help | grep -q -- "--data-dir"
echo "AppImage: opens, holds the app and its desktop entry, and starts"

echo "== the Windows installer: cross-compiled and packed (it is not run here: no Windows)"
ensure_debian_packages p7zip-full
# The debug build's last user was the installed app's end-to-end test above.
free_build_dirs target/debug
bash scripts/bundle.sh windows
setup="target/bundles/Merchant_Desk-${version}-x64-setup.exe"
contents=$(7z l "$setup")
for entry in merchant-desk.exe WebView2Loader.dll icon.ico uninstall.exe; do
  grep -q " $entry\$" <<<"$contents" || { echo "error: the installer lacks $entry" >&2; exit 1; }
done
file "$setup" | grep -q "Nullsoft Installer" || { echo "error: $setup is not an NSIS installer" >&2; exit 1; }
echo "Windows installer: holds the app, its WebView2 loader and an uninstaller"
