#!/bin/bash
# Builds the tiny integration-test desktop into OUT (idempotent, safe to run in parallel):
#   OUT/vmlinuz          the Debian kernel
#   OUT/initrd.cpio.gz   busybox + virtio/ext4 modules + init (below)
#   OUT/base.qcow2       read-only ext4 root image (/etc/base-version)
# The init mounts vda (the throwaway overlay) and vdb (the user's data disk) and prints on serial:
#   LABDESK: ready user=U session=S mem_mib=N data=mounted bootcount=N overlay=fresh|dirty
# bootcount lives on the data disk (survives restarts); overlay=dirty means a marker written to
# the root disk by an earlier boot is still there (it must never be). With labdesk.data=later (a
# handoff's replacement) it boots without vdb (ready … data=later) and, once the agent plugs the
# disk in, mounts it and prints:
#   LABDESK: data attached bootcount=N history=N
set -euo pipefail
OUT=${1:?usage: mkguest.sh OUT}
mkdir -p "$OUT"
exec 9>"$OUT/.lock"
flock 9
VERSION=2  # bump when the guest changes: a build folder keeps an older guest otherwise
[ -s "$OUT/base.qcow2" ] && [ -s "$OUT/initrd.cpio.gz" ] && [ -s "$OUT/vmlinuz" ] &&
  [ "$(cat "$OUT/version" 2>/dev/null)" = "$VERSION" ] && exit 0

KERNEL=$(ls /boot/vmlinuz-* | sort -V | tail -1)
KV=${KERNEL#/boot/vmlinuz-}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W"/root/{bin,proc,sys,dev,mnt,data,lib/modules/$KV}
cp /bin/busybox "$W"/root/bin/busybox
: > "$W"/root/modlist
for m in virtio_pci virtio_blk virtio_balloon ext4; do
  modprobe -S "$KV" --show-depends "$m" | awk '$1=="insmod"{print $2}'
done | awk '!seen[$0]++' | while read -r f; do
  cp "$f" "$W"/root/lib/modules/"$KV"/
  basename "$f" >> "$W"/root/modlist
done
cat > "$W"/root/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /modlist); do
  f=/lib/modules/$(uname -r)/$m
  case $f in *.xz) xz -dc "$f" > /tmp.ko; insmod /tmp.ko; rm -f /tmp.ko ;; *) insmod "$f" ;; esac 2>/dev/null
done
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p"; }
data_in() {  # mount the data disk, count the boot on it
  mount -t ext4 /dev/vdb /data || echo "LABDESK: error data"
  n=$(cat /data/bootcount 2>/dev/null || echo 0); n=$((n+1)); echo $n > /data/bootcount
  echo "boot $n" >> /data/history
  sync
}
later=$(arg labdesk.data)
[ "$later" = later ] || for i in $(seq 1 50); do [ -b /dev/vdb ] && break; sleep 0.1; done
mount -t ext4 /dev/vda /mnt || echo "LABDESK: error root"
if [ -e /mnt/overlay-marker ]; then overlay=dirty; else overlay=fresh; fi
echo "written at boot" > /mnt/overlay-marker
sync
mem=$(( $(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo) / 1024 ))
if [ "$later" = later ]; then
  echo "LABDESK: ready user=$(arg labdesk.user) session=$(arg labdesk.session) mem_mib=$mem data=later bootcount=0 overlay=$overlay"
  ( while [ ! -b /dev/vdb ]; do sleep 0.1; done
    data_in
    echo "LABDESK: data attached bootcount=$n history=$(cat /data/history | wc -l)" ) &
else
  data_in
  echo "LABDESK: ready user=$(arg labdesk.user) session=$(arg labdesk.session) mem_mib=$mem data=mounted bootcount=$n overlay=$overlay history=$(cat /data/history | wc -l)"
fi
echo "LABDESK DESKTOP $(arg labdesk.user)" > /dev/tty0
while true; do
  sleep 2
  echo "LABDESK: memtotal_mib=$(( $(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo) / 1024 ))"
done
INIT
chmod +x "$W"/root/init
(cd "$W"/root && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$W"/initrd.cpio.gz
mkdir -p "$W"/basefs/etc
echo "labdesk-test-base v1" > "$W"/basefs/etc/base-version
truncate -s 64M "$W"/base.raw
mkfs.ext4 -q -F -d "$W"/basefs "$W"/base.raw
qemu-img convert -q -f raw -O qcow2 "$W"/base.raw "$W"/base.qcow2
cp "$KERNEL" "$W"/vmlinuz
chmod 0644 "$W"/vmlinuz "$W"/initrd.cpio.gz
chmod 0444 "$W"/base.qcow2
mv "$W"/vmlinuz "$W"/initrd.cpio.gz "$OUT"/
mv "$W"/base.qcow2 "$OUT"/
echo "$VERSION" > "$OUT"/version
