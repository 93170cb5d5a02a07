#!/usr/bin/env bash
# pxe-assets build: a clean build in a temp folder matches the pxe-assets target's output byte
# for byte (reproducible); an unchanged rebuild takes seconds and rewrites nothing (cached); a
# changed input rebuilds only its part; an unknown kernel version fails with a clear message.
#   build_test.sh PXE_ASSETS_SRC TARGET_OUTPUT_DIR
set -euo pipefail
src=$1 ref=$2
fail() { echo "FAIL: $*"; exit 1; }
[ -f "$ref/.stamps/desktop" ] || fail "no $ref/.stamps/desktop: build the 'pxe-assets' target first"
d=$(mktemp -d "${TMPDIR:-/tmp}/labdesk-pxa-build.XXXXXX")
trap 'rm -rf "$d"' EXIT
sums() { (cd "$1" && find vmlinuz kernel-version desktop thin-client ipxe .stamps -type f | LC_ALL=C sort | xargs sha256sum); }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }

t0=$(now); "$src/build.sh" "$d/out" >/dev/null; t1=$(now)
echo "clean build: $(secs "$t0" "$t1") s"
diff <(sums "$ref") <(sums "$d/out") || fail "a clean build differs from $ref (not reproducible)"

stat -c '%n %Y %Z' "$d"/out/vmlinuz "$d"/out/*/* > "$d/before"
t0=$(now); "$src/build.sh" "$d/out" > "$d/rebuild.log"; t1=$(now)
echo "unchanged rebuild: $(secs "$t0" "$t1") s"
stat -c '%n %Y %Z' "$d"/out/vmlinuz "$d"/out/*/* > "$d/after"
diff "$d/before" "$d/after" || fail "an unchanged rebuild rewrote files"
grep -q 'desktop:\|thin-client:\|ipxe:\|vmlinuz:' "$d/rebuild.log" && fail "an unchanged rebuild rebuilt: $(cat "$d/rebuild.log")"
awk -v a="$t0" -v b="$t1" 'BEGIN{exit !(b-a < 10)}' || fail "an unchanged rebuild took $(secs "$t0" "$t1") s"

# a changed input (the epoch stamped on every file) rebuilds the thin client, not the desktop
desk=$(sha256sum < "$d/out/desktop/base.qcow2"); tc=$(sha256sum < "$d/out/thin-client/initrd.cpio.gz")
SOURCE_DATE_EPOCH=1700000100 "$src/thin-client/build.sh" "$d/out" > "$d/tc.log"
grep -q 'thin-client:' "$d/tc.log" || fail "a changed input did not rebuild the thin client"
[ "$(sha256sum < "$d/out/thin-client/initrd.cpio.gz")" != "$tc" ] || fail "thin-client initrd unchanged after a changed input"
[ "$(sha256sum < "$d/out/desktop/base.qcow2")" = "$desk" ] || fail "the desktop image changed"

if LABDESK_KERNEL_VERSION=0.0.0-nosuch "$src/build.sh" "$d/bad" > "$d/bad.log" 2>&1; then
  fail "a build for a kernel that is not installed succeeded"
fi
grep -q "kernel '/boot/vmlinuz-0.0.0-nosuch' missing" "$d/bad.log" || fail "unclear error: $(cat "$d/bad.log")"
echo "PASS pxe-assets build"
