#!/usr/bin/env bash
# OUTDIR/thin-client/initrd.cpio.gz: busybox, NIC drivers, DHCP, the announce and the viewer
# hook. LABDESK_TC_OVERLAY=DIR copies DIR over the tree (e.g. usr/bin/labdesk-viewer, its
# libraries, lib/firmware/...).
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
h=$(inputs_hash "$(command -v busybox)" $mods "$HERE" "$HERE/../lib" ${overlay:+"$overlay"})
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
[ -n "$overlay" ] && cp -a "$overlay/." "$T/"
make_cpio "$T" "$D/initrd.cpio.gz"
echo "$h" > "$OUT/.stamps/thin-client"
log "thin-client: initrd.cpio.gz $(du -k "$D/initrd.cpio.gz" | cut -f1) KiB (kernel $KVER${overlay:+, overlay $overlay})"
