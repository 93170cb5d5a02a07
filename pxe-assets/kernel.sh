#!/usr/bin/env bash
# OUTDIR/vmlinuz: a copy of the chosen Debian kernel (see lib/common.sh pick_kernel).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1
mkdir -p "$OUT/.stamps"
. "$HERE/lib/common.sh"
pick_kernel
h=$(inputs_hash "$KERNEL" "$HERE/kernel.sh")
if up_to_date "$OUT/.stamps/kernel" "$h" "$OUT/vmlinuz"; then exit 0; fi
cp "$KERNEL" "$OUT/vmlinuz.tmp"
touch -d "@$SOURCE_DATE_EPOCH" "$OUT/vmlinuz.tmp"
mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
echo "$KVER" > "$OUT/kernel-version"
echo "$h" > "$OUT/.stamps/kernel"
log "vmlinuz: $KERNEL ($KVER)"
