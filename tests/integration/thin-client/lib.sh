# Shared by the viewer's integration test and benchmark: namespaces, TCG VMs, Xvfb, polling.
# Everything started is recorded by PID and stopped by cleanup (trap it).
# Needs: W (work dir), B (build dir). Sets: NSD NSC (desktop / client namespaces), VD VC (veth).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KERNEL=${LABDESK_TEST_KERNEL:-$(ls /boot/vmlinuz-* | sort -V | tail -1)}
PIDS=()
NSD=ldvd$$ NSC=ldvc$$ VD=vd$$ VC=vc$$
DESK_IP=10.231.0.1 CLIENT_IP=10.231.0.2

say() { echo "[$(date +%T)] $*"; }
die() { say "FAIL: $*"; exit 1; }

cleanup() {
  local rc=$?
  for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill "${PIDS[i]}" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  ip netns del "$NSD" 2>/dev/null || true
  ip netns del "$NSC" 2>/dev/null || true
  if [ "$rc" -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$W"; else say "work dir kept: $W"; fi
  exit $rc
}

# poll SECONDS CMD...: true as soon as CMD succeeds
poll() {
  local t=$1; shift
  local end=$(( $(date +%s) + t ))
  while [ "$(date +%s)" -le "$end" ]; do "$@" && return 0; sleep 0.2; done
  return 1
}

# A desktop namespace and a client namespace joined by one veth link (the "client's cable").
net_up() {
  ip netns add "$NSD"; ip netns add "$NSC"
  ip link add "$VD" netns "$NSD" type veth peer name "$VC" netns "$NSC"
  ip -n "$NSD" addr add $DESK_IP/24 dev "$VD"; ip -n "$NSC" addr add $CLIENT_IP/24 dev "$VC"
  for ns in "$NSD" "$NSC"; do ip -n "$ns" link set lo up; done
  ip -n "$NSD" link set "$VD" up; ip -n "$NSC" link set "$VC" up
}

# vm NAME DISPLAY BG MODE: a TCG VM in the desktop namespace, VNC on DESK_IP:5900+DISPLAY; with
# VM_TLS_DIR set (ca-cert.pem, server-cert.pem, server-key.pem) the console is VeNCrypt x509.
vm() {
  local name=$1 disp=$2 bg=$3 mode=$4 tls=()
  [ -n "${VM_TLS_DIR:-}" ] && tls=(-object "tls-creds-x509,id=tls0,dir=$VM_TLS_DIR,endpoint=server,verify-peer=off")
  ip netns exec "$NSD" qemu-system-x86_64 -accel tcg -m 256 -kernel "$KERNEL" -initrd "$W/initrd.gz" \
    -append "console=ttyS0 vga=0x318 vt.global_cursor_default=0 quiet labdesk.name=$name labdesk.bg=$bg labdesk.mode=$mode" \
    "${tls[@]}" -vga std -display none -vnc "$DESK_IP:$disp,password=on${VM_TLS_DIR:+,tls-creds=tls0}" -nic none \
    -qmp "unix:$W/qmp-$name.sock,server,nowait" -serial "file:$W/serial-$name.log" \
    >"$W/qemu-$name.log" 2>&1 &
  PIDS+=($!)
}
vm_ready() { grep -q "LABDESK-READY $1" "$W/serial-$1.log" 2>/dev/null; }
qmp() { python3 "$HERE/qmp.py" "$W/qmp-$1.sock" "$2"; }
vnc_password() { qmp "$1" "{\"execute\":\"set_password\",\"arguments\":{\"protocol\":\"vnc\",\"password\":\"$2\"}}" | grep -q return; }
screendump() { rm -f "$2"; qmp "$1" "{\"execute\":\"screendump\",\"arguments\":{\"filename\":\"$2\"}}" >/dev/null; poll 10 test -s "$2"; }

xvfb() {
  for d in $(seq 150 250); do
    [ -e /tmp/.X11-unix/X$d ] || [ -e /tmp/.X$d-lock ] || { DISP=$d; break; }
  done
  Xvfb ":$DISP" -screen 0 1024x768x24 -nolisten tcp >"$W/xvfb.log" 2>&1 &
  PIDS+=($!)
  poll 20 test -e "/tmp/.X11-unix/X$DISP" || die "Xvfb :$DISP did not start"
  export DISPLAY=":$DISP"
}

# differing pixels between two images (ImageMagick), with a 2 % colour fuzz
pixel_diff() { { compare -fuzz 2% -metric AE "$1" "$2" null: 2>&1 || true; } | cut -d" " -f1; }
