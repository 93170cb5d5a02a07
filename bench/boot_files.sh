#!/usr/bin/env bash
# Boot files to N lab PCs at once, side by side in one run: labdesk-boot-server's HTTP vs
# dnsmasq's TFTP (the classic PXE path) vs nginx (anchor), all serving the same kernel +
# thin-client initramfs from the same folder, clients in the same network namespace.
# Prints time until the last client has both files and aggregate throughput, N = 1 10 50.
#   sudo bench/boot_files.sh [BUILD_DIR]     (needs root: network namespace, dnsmasq, nginx)
# Clients: curl (HTTP with keep-alive; TFTP with blksize 1432, what iPXE negotiates).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BIN=$BUILD/boot-server/labdesk-boot-server
[ -x "$BIN" ] || { echo "boot_files.sh: build first ($BIN missing)" >&2; exit 1; }
NS=ldbench$$
W=$(mktemp -d /var/tmp/labdesk-bench.XXXXXX)
chmod 755 "$W"  # dnsmasq serves TFTP as nobody
ASSETS=$BUILD/pxe-assets
if [ ! -f "$ASSETS/vmlinuz" ]; then pxe-assets/build.sh "$ASSETS" > "$W/assets.log" 2>&1; fi
ASSETS=$(cd "$ASSETS" && pwd)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  ip netns del "$C" 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add br0 type bridge
ip -n "$NS" addr add 10.77.0.1/24 dev br0
ip -n "$NS" link set br0 up
X="ip netns exec $NS"
# The clients live in their own namespace behind a veth on the lab bridge, like lab PCs.
C=${NS}c
ip netns add "$C"
ip -n "$C" link set lo up
ip link add name "${NS}a" netns "$NS" type veth peer name "${NS}b" netns "$C"
ip -n "$NS" link set "${NS}a" master br0 up
ip -n "$C" addr add 10.77.0.50/24 dev "${NS}b"
ip -n "$C" link set "${NS}b" up
XC="ip netns exec $C"

cat > "$W/lab.toml" <<T
[lab]
interface = "br0"
address = "10.77.0.1/24"
range_start = "10.77.0.100"
range_end = "10.77.0.200"
ipv6_ra = false
[boot]
assets_dir = "$ASSETS"
state_dir = "$W/state"
[nat]
enabled = false
[[hosts]]
name = "virt-a"
capacity_mib = 4096
T
$X "$BIN" -c "$W/lab.toml" --log-level=error > "$W/server.log" 2>&1 & pids+=($!)
for i in $(seq 300); do $X curl -sf -o /dev/null http://10.77.0.1:8080/boot.ipxe && break; sleep 0.1; done
[ -d "$W/state/boot" ] || { echo "boot_files.sh: labdesk-boot-server did not start:"; cat "$W/server.log"; exit 1; } >&2
VER=$(ls "$W/state/boot" | head -1)
DIR=$W/state/boot/$VER

# dnsmasq TFTP only, on the same files.
$X dnsmasq --keep-in-foreground --port=0 --listen-address=10.77.0.1 --bind-interfaces --enable-tftp \
  --tftp-root="$DIR" --log-facility="$W/tftp.log" --pid-file= & pids+=($!)
# nginx, same files, as many workers as the boot-server has HTTP threads (2).
mkdir -p "$W/nginx"
cat > "$W/nginx.conf" <<N
worker_processes 2;
pid $W/nginx/pid;
error_log $W/nginx/error.log;
daemon off;
events { worker_connections 1024; }
http {
  access_log off; sendfile on; tcp_nopush on; keepalive_timeout 30;
  client_body_temp_path $W/nginx; proxy_temp_path $W/nginx; fastcgi_temp_path $W/nginx;
  uwsgi_temp_path $W/nginx; scgi_temp_path $W/nginx;
  server { listen 10.77.0.1:8082; root $DIR; }
}
N
$X nginx -c "$W/nginx.conf" & pids+=($!)
for i in $(seq 100); do $X curl -sf -o /dev/null http://10.77.0.1:8082/vmlinuz && break; sleep 0.1; done

BYTES=$(( $(stat -c %s "$DIR/vmlinuz") + $(stat -c %s "$DIR/thin-client/initrd.cpio.gz") ))
now() { date +%s.%N; }
# run_clients N KIND: N clients at once, each fetching the kernel then the initramfs.
run_clients() {
  local n=$1 kind=$2 t0 t1 i clients=()
  t0=$(now)
  for i in $(seq "$n"); do
    case $kind in
      http) $XC curl -sSf -o /dev/null -o /dev/null "http://10.77.0.1:8081/boot/$VER/vmlinuz" "http://10.77.0.1:8081/boot/$VER/thin-client/initrd.cpio.gz" & ;;
      nginx) $XC curl -sf -o /dev/null -o /dev/null "http://10.77.0.1:8082/vmlinuz" "http://10.77.0.1:8082/thin-client/initrd.cpio.gz" & ;;
      tftp) $XC curl -sf --tftp-blksize 1432 -o /dev/null -o /dev/null "tftp://10.77.0.1/vmlinuz" "tftp://10.77.0.1/thin-client/initrd.cpio.gz" & ;;
    esac
    clients+=($!)
  done
  for i in "${clients[@]}"; do
    if ! wait "$i"; then echo "boot_files.sh: a $kind client failed" >&2; exit 1; fi
  done
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}'
}

echo "boot files: vmlinuz + thin-client/initrd.cpio.gz = $BYTES bytes per client; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg); clients in a netns behind a veth on the lab bridge"
printf "%4s  %-22s %10s %12s\n" N server "last (s)" "MB/s total"
for n in 1 10 50; do
  run_clients 2 http >/dev/null; run_clients 2 nginx >/dev/null  # warm the page cache
  declare -A t
  for kind in http tftp nginx; do t[$kind]=$(run_clients "$n" "$kind"); done
  for kind in http tftp nginx; do
    name=$kind; [ $kind = http ] && name="labdesk HTTP"; [ $kind = tftp ] && name="dnsmasq TFTP"
    printf "%4d  %-22s %10s %12.1f\n" "$n" "$name" "${t[$kind]}" "$(awk -v b="$BYTES" -v n="$n" -v s="${t[$kind]}" 'BEGIN{print b*n/s/1e6}')"
  done
  awk -v h="${t[http]}" -v f="${t[tftp]}" -v g="${t[nginx]}" -v n="$n" \
    'BEGIN{printf "%4d  ratios: labdesk HTTP = %.1fx TFTP (goal >= 3), %.2fx nginx (goal >= 0.9)\n", n, f/h, g/h}'
done
