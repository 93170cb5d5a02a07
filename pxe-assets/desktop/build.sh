#!/usr/bin/env bash
# OUTDIR/desktop/base.qcow2 (ext4 root made with mkfs.ext4 -d, converted to qcow2) and
# OUTDIR/desktop/initrd.cpio.gz (drivers + /init that mounts /dev/vda and switches to it).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1
mkdir -p "$OUT/.stamps"
. "$HERE/../lib/common.sh"
pick_kernel
D=$OUT/desktop
mkdir -p "$D"
mods=$(module_files "$HERE/modules.list")
h=$(inputs_hash "$(command -v busybox)" $mods "$HERE" "$HERE/../lib")
if up_to_date "$OUT/.stamps/desktop" "$h" "$D/base.qcow2" "$D/initrd.cpio.gz"; then exit 0; fi

W=$(mktemp -d "${TMPDIR:-/tmp}/labdesk-desktop.XXXXXX")
trap 'rm -rf "$W"' EXIT

# initramfs
I=$W/initrd
mkdir -p "$I"/{proc,sys,dev,tmp,newroot,etc}
install_busybox "$I"
install_modules "$I" "$HERE/modules.list"
install -m 0755 "$HERE/initrd-init" "$I/init"
make_cpio "$I" "$D/initrd.cpio.gz"

# root filesystem
R=$W/root
mkdir -p "$R"
cp -a "$HERE/rootfs/." "$R/"
install_busybox "$R"
mkdir -p "$R"/{proc,sys,dev,run,tmp,data,root,mnt}
chmod 1777 "$R/tmp"
chmod 0700 "$R/root"
echo "$KVER" > "$R/etc/labdesk-kernel"
normalize_tree "$R"
# Fixed UUID, hash seed and clock: the same inputs give the same image, byte for byte.
uuid=6c616264-6573-6b2d-726f-6f7400000001
rm -f "$W/root.ext4"; truncate -s 64M "$W/root.ext4"
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mkfs.ext4 -q -F -L labdesk-root -U "$uuid" \
  -E "hash_seed=$uuid,root_owner=0:0,lazy_itable_init=0,nodiscard" -b 4096 -I 256 \
  -d "$R" "$W/root.ext4"
# mkfs copies each file's ctime, which no tool can set on the source tree: pin it with debugfs.
(cd "$R" && find . | LC_ALL=C sort | sed -e 's|^\.||' -e 's|^$|/|' |
  while read -r p; do echo "set_inode_field \"$p\" ctime @$SOURCE_DATE_EPOCH"; done) > "$W/ctime.cmds"
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH debugfs -w -f "$W/ctime.cmds" "$W/root.ext4" >/dev/null 2>"$W/debugfs.err" ||
  die "debugfs could not pin ctimes: $(tail -3 "$W/debugfs.err")"
qemu-img convert -q -f raw -O qcow2 "$W/root.ext4" "$D/base.qcow2.tmp"
mv "$D/base.qcow2.tmp" "$D/base.qcow2"
chmod 0444 "$D/base.qcow2"   # the base is never written: every boot gets its own overlay

echo "$h" > "$OUT/.stamps/desktop"
log "desktop: base.qcow2 $(du -k --apparent-size "$D/base.qcow2" | cut -f1) KiB, initrd.cpio.gz $(du -k "$D/initrd.cpio.gz" | cut -f1) KiB (kernel $KVER)"
