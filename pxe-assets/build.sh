#!/usr/bin/env bash
# Builds the boot images into OUTDIR (default: ./out):
#   OUTDIR/vmlinuz                      the Debian kernel (newest in /boot, or $LABDESK_KERNEL_VERSION)
#   OUTDIR/desktop/base.qcow2           test desktop root filesystem (ext4), the read-only base
#   OUTDIR/desktop/initrd.cpio.gz       its initramfs for direct kernel boot
#   OUTDIR/thin-client/initrd.cpio.gz   the thin-client OS (runs from RAM)
#   OUTDIR/ipxe/{undionly.kpxe,ipxe.efi,snponly.efi,boot.ipxe}
# Each part is rebuilt only when the hash of its inputs changes (OUTDIR/.stamps/*).
# Environment: LABDESK_KERNEL_VERSION (e.g. 6.1.0-56-amd64), LABDESK_TC_OVERLAY (a directory
# copied over the thin-client initramfs, e.g. holding usr/bin/labdesk-viewer), SOURCE_DATE_EPOCH.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
. "$HERE/lib/common.sh"
pick_kernel
mkdir -p "$OUT/.stamps"
t0=$(date +%s.%N)

"$HERE/kernel.sh" "$OUT"
"$HERE/desktop/build.sh" "$OUT"
"$HERE/thin-client/build.sh" "$OUT"
"$HERE/ipxe/build.sh" "$OUT"

log "all assets for kernel $KVER in $OUT ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s)"
