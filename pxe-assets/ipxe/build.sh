#!/usr/bin/env bash
# OUTDIR/ipxe: the first stages from Debian's ipxe package and the boot.ipxe template.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1
mkdir -p "$OUT/.stamps"
. "$HERE/../lib/common.sh"
KVER=n/a
SRC=${LABDESK_IPXE_DIR:-/usr/lib/ipxe}
files="$SRC/undionly.kpxe $SRC/ipxe.efi $SRC/snponly.efi"
for f in $files; do [ -r "$f" ] || die "iPXE first stage '$f' missing (install the Debian package ipxe)"; done
h=$(inputs_hash $files "$HERE")
if up_to_date "$OUT/.stamps/ipxe" "$h" "$OUT/ipxe/boot.ipxe"; then exit 0; fi
mkdir -p "$OUT/ipxe"
for f in $files; do cp "$f" "$OUT/ipxe/"; done
cp "$HERE/boot.ipxe" "$OUT/ipxe/boot.ipxe"
normalize_tree "$OUT/ipxe"
echo "$h" > "$OUT/.stamps/ipxe"
log "ipxe: undionly.kpxe ipxe.efi snponly.efi boot.ipxe"
