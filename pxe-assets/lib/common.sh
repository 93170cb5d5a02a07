# Shared helpers for the pxe-assets build scripts (sourced by bash scripts with set -euo pipefail).
# Reproducibility: every file gets the same mtime, cpio archives are sorted with owner 0:0,
# gzip drops names and times, mkfs.ext4 gets a fixed UUID, hash seed and clock.

: "${SOURCE_DATE_EPOCH:=1700000000}"
export SOURCE_DATE_EPOCH

die() { echo "pxe-assets: $*" >&2; exit 1; }
log() { echo "pxe-assets: $*"; }

# pick_kernel: newest /boot/vmlinuz-* that has a /lib/modules tree, or $LABDESK_KERNEL_VERSION.
pick_kernel() {
  if [ -n "${LABDESK_KERNEL_VERSION:-}" ]; then
    KVER=$LABDESK_KERNEL_VERSION
  else
    KVER=
    for k in $(ls /boot/vmlinuz-* 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -V -r); do
      if [ -f "/lib/modules/$k/modules.dep" ]; then KVER=$k; break; fi
    done
  fi
  [ -n "$KVER" ] || die "no kernel: need /boot/vmlinuz-VERSION and /lib/modules/VERSION (install linux-image-amd64, see scripts/install-deps)"
  KERNEL=/boot/vmlinuz-$KVER
  [ -r "$KERNEL" ] || die "kernel '$KERNEL' missing or unreadable (LABDESK_KERNEL_VERSION='${LABDESK_KERNEL_VERSION:-}')"
  [ -f "/lib/modules/$KVER/modules.dep" ] || die "no modules for kernel '$KVER' in /lib/modules/$KVER (the initramfs modules must match the kernel)"
}

# module_files LIST_FILE...: the .ko paths for the modules named in the list files (comments and
# blank lines ignored), in load order with dependencies first, each once.
module_files() {
  for f in "$@"; do sed -e 's/#.*//' "$f"; done | tr -s ' \t' '\n\n' | sed '/^$/d' |
  while read -r m; do
    out=$(modprobe -S "$KVER" --show-depends "$m" 2>&1) ||
      die "module '$m' not found for kernel $KVER (listed in $*); check the name with: modinfo -k $KVER $m"
    printf '%s\n' "$out" | awk '$1=="insmod"{print $2}'
  done | awk '!seen[$0]++'
}

# install_modules DESTROOT LIST_FILE...: copies the modules (decompressed if needed) into
# DESTROOT/lib/modules/KVER and writes DESTROOT/etc/modules.order (load order, one file a line).
install_modules() {
  dest=$1; shift
  files=$(module_files "$@") || exit 1
  mkdir -p "$dest/lib/modules/$KVER" "$dest/etc"
  : > "$dest/etc/modules.order"
  for f in $files; do
    b=$(basename "$f")
    case $b in
      *.ko.xz) xz -dc "$f" > "$dest/lib/modules/$KVER/${b%.xz}"; b=${b%.xz} ;;
      *.ko.zst) zstd -qdc "$f" > "$dest/lib/modules/$KVER/${b%.zst}"; b=${b%.zst} ;;
      *) cp "$f" "$dest/lib/modules/$KVER/$b" ;;
    esac
    echo "$b" >> "$dest/etc/modules.order"
  done
}

# install_busybox DESTROOT: static busybox with one symlink per applet in /bin (made here, not at
# boot, so the image is complete and reproducible).
install_busybox() {
  dest=$1
  bb=$(command -v busybox) || die "busybox not found (install busybox-static)"
  # the images have no C library: a dynamic busybox would not run (ldd fails on static binaries)
  ! ldd "$bb" >/dev/null 2>&1 || die "'$bb' is not static (install busybox-static)"
  mkdir -p "$dest/bin" "$dest/sbin" "$dest/usr/bin" "$dest/usr/sbin"
  cp "$bb" "$dest/bin/busybox"
  for a in $("$bb" --list); do
    [ "$a" = busybox ] || ln -sf busybox "$dest/bin/$a"
  done
  ln -sf ../bin/busybox "$dest/sbin/init"
}

# normalize_tree DIR: same mtime everywhere.
normalize_tree() {
  find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
}

# make_cpio DIR OUT: reproducible gzip'd newc archive.
make_cpio() {
  normalize_tree "$1"
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort |
     cpio --quiet -o -H newc --reproducible --owner=0:0) | gzip -n -9 > "$2.tmp"
  mv "$2.tmp" "$2"
}

# inputs_hash PATH...: sha256 over names and contents of files (directories walked, sorted),
# plus the kernel version and epoch. Used as the cache key of a stamp file.
inputs_hash() {
  {
    echo "kver=$KVER epoch=$SOURCE_DATE_EPOCH"
    for p in "$@"; do
      if [ -d "$p" ]; then find "$p" -type f -o -type l; else echo "$p"; fi
    done | LC_ALL=C sort | while read -r f; do
      if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; else echo "$f $(sha256sum < "$f" | cut -c1-64)"; fi
    done
  } | sha256sum | cut -c1-64
}

# up_to_date STAMP HASH OUTPUT...: true when STAMP holds HASH and every output exists.
up_to_date() {
  stamp=$1; hash=$2; shift 2
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ] || return 1
  for o in "$@"; do [ -e "$o" ] || return 1; done
}

# elf_closure FILE...: the shared libraries FILE... load (ldd, so with their whole dependency
# tree) and the program interpreter, as absolute paths, sorted, each once. Fails on a missing one.
elf_closure() {
  for f in "$@"; do
    out=$(ldd "$f" 2>&1) || die "ldd '$f' failed: $out"
    if printf '%s\n' "$out" | grep -q 'not found'; then
      die "'$f' needs libraries that are not installed: $(printf '%s\n' "$out" | grep 'not found' | tr -s ' \t' ' ')"
    fi
    printf '%s\n' "$out" | awk '$2=="=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
  done | LC_ALL=C sort -u
}

# dlopen_libs ELF: the libraries ELF opens with dlopen by soname (the 'libNAME.so.N' strings in it
# that are not among its DT_NEEDED), as paths from ldconfig's cache. Fails on one not installed.
dlopen_libs() {
  needed=$(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  for so in $(strings -a "$1" | grep -E '^lib[A-Za-z0-9_+.-]+\.so\.[0-9]+$' | LC_ALL=C sort -u); do
    printf '%s\n' $needed | grep -qxF "$so" && continue
    path=$(ldconfig -p | awk -v so="$so" '$1 == so && /x86-64/ {print $NF; exit}')
    [ -n "$path" ] || die "'$1' opens '$so' with dlopen, which is not installed (see scripts/install-deps)"
    echo "$path"
  done
}

# install_files DESTROOT PATH...: copies each file (symlinks followed) to the same path below
# DESTROOT, keeping its mode.
install_files() {
  dest=$1; shift
  for f in "$@"; do
    [ -e "$f" ] || die "'$f' is missing (see scripts/install-deps)"
    mkdir -p "$dest$(dirname "$f")"
    cp -L --preserve=mode "$f" "$dest$f"
  done
}
