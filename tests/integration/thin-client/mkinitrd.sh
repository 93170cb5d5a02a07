#!/bin/sh
# mkinitrd.sh OUT: the busybox initramfs for the viewer's test VMs (no modules needed: VESA fb,
# i8042 keyboard and 8250 serial are built into the Debian kernel).
set -e
OUT=$1
W=$(mktemp -d)
mkdir -p "$W/bin" "$W/proc" "$W/sys" "$W/dev" "$W/tmp"
cp /bin/busybox "$W/bin/busybox"
cp "$(dirname "$0")/guest-init.sh" "$W/init"
chmod +x "$W/init"
(cd "$W" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$OUT"
rm -rf "$W"
