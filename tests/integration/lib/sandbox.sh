#!/bin/bash
# Integration-test sandbox: a fresh mount + network namespace with its own libvirtd and virtlogd,
# so parallel tests and other people's VMs never collide. Needs root.
#
#   sandbox.sh run CMD [ARGS...]   run CMD inside a new sandbox; daemons and VMs are killed by PID
#                                  at the end; exit status is CMD's
#   sandbox.sh start-libvirtd      (inside a sandbox) start libvirtd, wait until it answers
#   sandbox.sh stop-libvirtd       (inside a sandbox) kill libvirtd by PID (VMs keep running)
# SANDBOX_VNC_TLS_DIR=DIR: libvirt gives every VNC console TLS with the certificates in DIR.
# SANDBOX_LIBVIRT_LISTEN=ADDR: a host that takes live migrations: libvirtd listens on ADDR over
#   TCP (no auth: tests only), has a host UUID of its own, and QEMU takes incoming migrations on
#   ADDR. SANDBOX_HOST_NAME=NAME: the host's name (run inner under `unshare --uts`): libvirt
#   refuses to migrate between hosts of one name or UUID.
set -euo pipefail

RUN=/run/libvirt
LIBVIRTD_PID=$RUN/labdesk-libvirtd.pid
VIRTLOGD_PID=$RUN/labdesk-virtlogd.pid

pid_of() { [ -s "$1" ] && cat "$1" || true; }

start_libvirtd() {
  libvirtd -d -p "$LIBVIRTD_PID" ${SANDBOX_LIBVIRTD_LOG:+-v} ${SANDBOX_LIBVIRT_LISTEN:+--listen}
  for _ in $(seq 1 300); do
    virsh -c qemu:///system version >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "sandbox: libvirtd did not answer within 30 s" >&2
  return 1
}

stop_libvirtd() {
  local pid
  pid=$(pid_of "$LIBVIRTD_PID")
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$LIBVIRTD_PID"
}

cleanup() {
  # VMs first (their PIDs are in libvirt's state directory of this sandbox only), then daemons.
  for f in "$RUN"/qemu/*.pid; do
    [ -e "$f" ] || continue
    kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  stop_libvirtd
  # the dnsmasq of each network libvirt ran (the desktops' NAT network)
  for f in "$RUN"/network/*.pid; do
    [ -e "$f" ] || continue
    kill "$(cat "$f")" 2>/dev/null || true
  done
  local pid
  pid=$(pid_of "$VIRTLOGD_PID")
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
}

inner() {
  mount --make-rprivate /
  ip link set lo up
  # sysfs of this network namespace (as `ip netns exec` does): libvirt sets a bridge port's
  # isolation through /sys/class/net, which otherwise shows the machine's own interfaces. The
  # cgroup mounts under it are carried over.
  # A host inside a sandbox, or started by `ip netns exec`, has it already (the kernel then says
  # busy, and /sys stays as it is).
  if ! grep -q '^sandbox-sysfs /sys ' /proc/mounts; then
    local cg
    cg=$(mktemp -d)
    mount --rbind /sys/fs/cgroup "$cg"
    if mount -t sysfs sandbox-sysfs /sys 2>/dev/null; then mount --rbind "$cg" /sys/fs/cgroup; fi
    umount -l "$cg" && rmdir "$cg"
  fi
  # libvirt resolves its compiled-in QEMU user before reading qemu.conf; where the package's
  # user is missing, give this namespace (only) a passwd/group that has it.
  if ! getent passwd libvirt-qemu >/dev/null || ! getent group libvirt-qemu >/dev/null; then
    local ids
    ids=$(mktemp -d)
    cp /etc/passwd /etc/group "$ids"/
    getent passwd libvirt-qemu >/dev/null || echo "libvirt-qemu:x:64055:64055:libvirt:/var/lib/libvirt:/usr/sbin/nologin" >> "$ids"/passwd
    getent group libvirt-qemu >/dev/null || echo "libvirt-qemu:x:64055:" >> "$ids"/group
    getent group libvirt >/dev/null || echo "libvirt:x:64056:" >> "$ids"/group
    mount --bind "$ids"/passwd /etc/passwd
    mount --bind "$ids"/group /etc/group
  fi
  # libvirt's config on a tmpfs copy: no persistent domains or networks of anybody else, and
  # QEMU runs as root here (the test owns every file it hands to QEMU).
  local etc
  etc=$(mktemp -d)
  cp -a /etc/libvirt/. "$etc"/ 2>/dev/null || true
  mount -t tmpfs -o mode=0755 tmpfs /etc/libvirt
  cp -a "$etc"/. /etc/libvirt/
  rm -rf "$etc" /etc/libvirt/qemu /etc/libvirt/storage
  mkdir -p /etc/libvirt/qemu
  cat > /etc/libvirt/qemu.conf <<'CONF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
vnc_listen = "127.0.0.1"
CONF
  # Consoles over TLS (VeNCrypt x509 + VNC password), as on a lab's hosts: the folder holds
  # ca-cert.pem, server-cert.pem, server-key.pem (labdesk-boot-server --issue-console-certificate).
  if [ -n "${SANDBOX_VNC_TLS_DIR:-}" ]; then
    printf 'vnc_tls = 1\nvnc_tls_x509_cert_dir = "%s"\nvnc_tls_x509_verify = 0\n' "$SANDBOX_VNC_TLS_DIR" >> /etc/libvirt/qemu.conf
  fi
  if [ -n "${SANDBOX_LIBVIRT_LISTEN:-}" ]; then
    printf 'listen_tls = 0\nlisten_tcp = 1\nlisten_addr = "%s"\nauth_tcp = "none"\nhost_uuid = "%s"\n' \
      "$SANDBOX_LIBVIRT_LISTEN" "$(cat /proc/sys/kernel/random/uuid)" >> /etc/libvirt/libvirtd.conf
    printf 'migration_host = "%s"\nmigration_address = "%s"\n' "$SANDBOX_LIBVIRT_LISTEN" "$SANDBOX_LIBVIRT_LISTEN" >> /etc/libvirt/qemu.conf
  fi
  if [ -n "${SANDBOX_HOST_NAME:-}" ]; then
    hostname "$SANDBOX_HOST_NAME"
    # libvirt looks its host name up (virGetHostname): without an entry the lookup goes to a DNS
    # server this machine cannot reach, and every migration waits for its 5 s time-outs.
    local hosts
    hosts=$(mktemp)
    cat /etc/hosts > "$hosts"
    echo "${SANDBOX_LIBVIRT_LISTEN:-127.0.1.1} $SANDBOX_HOST_NAME" >> "$hosts"
    mount --bind "$hosts" /etc/hosts
  fi
  for d in /run/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt; do
    mkdir -p "$d"
    mount -t tmpfs -o mode=0755 tmpfs "$d"
  done
  trap cleanup EXIT
  virtlogd -d -p "$VIRTLOGD_PID"
  start_libvirtd
  local rc=0
  "$@" || rc=$?
  exit $rc
}

case "${1:-}" in
  run)
    shift
    [ "$(id -u)" -eq 0 ] || { echo "sandbox: integration tests need root (sudo scripts/test)" >&2; exit 1; }
    # The outer half only creates the namespaces; the inner half sets them up.
    exec unshare --mount --net --fork --propagation private "$0" inner "$@" ;;
  inner) shift; inner "$@" ;;
  start-libvirtd) start_libvirtd ;;
  stop-libvirtd) stop_libvirtd ;;
  *) echo "usage: sandbox.sh run CMD... | start-libvirtd | stop-libvirtd" >&2; exit 2 ;;
esac
