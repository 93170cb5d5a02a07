#!/usr/bin/env bash
# OUTDIR/thin-client/initrd.cpio.gz: busybox, NIC/screen/input drivers, DHCP, the announce, and
# labdesk-viewer on an X display. LABDESK_VIEWER=PATH (the pxe-assets CMake target passes it;
# default OUTDIR/../thin-client/labdesk-viewer, its place in a CMake build folder) is packed,
# stripped, with the display stack of display.list, the font the viewer draws with
# (LABDESK_VIEWER_FONT, default: the font paths compiled into the viewer) and every shared
# library they load, linked or opened with dlopen (SDL). LABDESK_VIEWER=none builds a
# console-only thin client.
# LABDESK_TC_OVERLAY=DIR copies DIR over the tree (lib/firmware/..., a stand-in viewer, ...).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1
mkdir -p "$OUT/.stamps"
. "$HERE/../lib/common.sh"
pick_kernel
D=$OUT/thin-client
mkdir -p "$D"
overlay=${LABDESK_TC_OVERLAY:-}
[ -z "$overlay" ] || [ -d "$overlay" ] || die "LABDESK_TC_OVERLAY='$overlay' is not a directory"
mods=$(module_files "$HERE/modules.list")
viewer=${LABDESK_VIEWER:-}
if [ -z "$viewer" ]; then
  # default: the viewer of the CMake build folder OUT is in (build/pxe-assets -> build/thin-client)
  viewer=$(cd "$OUT/.." && pwd)/thin-client/labdesk-viewer
  [ -x "$viewer" ] || die "no labdesk-viewer at '$viewer': build it (cmake --build build --target labdesk-viewer) or set LABDESK_VIEWER=PATH (LABDESK_VIEWER=none: a thin client without viewer)"
fi
vbin= display= fonts= libs=
if [ "$viewer" != none ]; then
  [ -x "$viewer" ] || die "LABDESK_VIEWER='$viewer' is not an executable (build the labdesk-viewer target first)"
  viewer=$(realpath "$viewer"); vbin=$viewer
  fonts=${LABDESK_VIEWER_FONT:-$(strings -a "$viewer" | grep -E '^/[^ ]+\.(ttf|otf)$' | LC_ALL=C sort -u)}
  [ -n "$fonts" ] || die "no font path found in '$viewer': set LABDESK_VIEWER_FONT=/path/to/font.ttf"
  display=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$HERE/display.list")
  for f in $fonts $display; do [ -e "$f" ] || die "'$f' is missing: install the packages of scripts/install-deps"; done
  # SDL2 and SDL2_ttf are opened with dlopen (thin-client/src/sdl_api.hpp), so ldd does not list
  # them: packed by the sonames in the viewer, with everything they load.
  opened=$(dlopen_libs "$viewer")
  [ -n "$opened" ] || die "no dlopen'ed SDL found in '$viewer' (expected 'libSDL2-2.0.so.0' among its strings)"
  libs=$({ elf_closure "$viewer" $opened $(for f in $display; do case $f in *.so|*/Xorg|*/bin/*) echo "$f" ;; esac; done)
           printf '%s\n' $opened; } | LC_ALL=C sort -u)
fi
h=$(inputs_hash "$(command -v busybox)" $mods "$HERE" "$HERE/../lib" ${overlay:+"$overlay"} \
      $vbin $fonts $display $(for l in $libs; do readlink -f "$l"; done))
if up_to_date "$OUT/.stamps/thin-client" "$h" "$D/initrd.cpio.gz"; then exit 0; fi

W=$(mktemp -d "${TMPDIR:-/tmp}/labdesk-tc.XXXXXX")
trap 'rm -rf "$W"' EXIT
T=$W/root
mkdir -p "$T"/{proc,sys,dev,run,tmp,etc,root}
cp -a "$HERE/rootfs/." "$T/"
install_busybox "$T"
install_modules "$T" "$HERE/modules.list"
install -m 0755 "$HERE/init" "$T/init"
printf 'root::0:0:root:/root:/bin/sh\n' > "$T/etc/passwd"
printf 'root:x:0:\n' > "$T/etc/group"
printf 'export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root\nPS1="labdesk-tc:\\w# "\n' > "$T/etc/profile"
echo "$KVER" > "$T/etc/labdesk-kernel"
chmod 1777 "$T/tmp"
if [ "$viewer" != none ]; then
  mkdir -p "$T/usr/bin" "$T/var/lib/xkb"
  strip --strip-all -o "$T/usr/bin/labdesk-viewer" "$viewer"
  install_files "$T" $fonts $display $libs
  # Xorg without hotplug asks for the XKB rules "base"; ours are evdev's (see rootfs/etc/tc/xorg-conf)
  ln -s evdev "$T/usr/share/X11/xkb/rules/base"
  printf '%s\n' $libs > "$T/etc/labdesk-libs"
fi
[ -n "$overlay" ] && cp -a "$overlay/." "$T/"
make_cpio "$T" "$D/initrd.cpio.gz"
echo "$h" > "$OUT/.stamps/thin-client"
log "thin-client: initrd.cpio.gz $(du -k "$D/initrd.cpio.gz" | cut -f1) KiB (kernel $KVER, viewer ${viewer}${libs:+ + $(echo "$libs" | wc -l) libraries}${overlay:+, overlay $overlay})"
