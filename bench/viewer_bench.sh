#!/usr/bin/env bash
# labdesk-viewer vs TigerVNC's xtigervncviewer, same run, same TCG VMs, same Xvfb, both viewers
# in the client namespace behind one veth link (its byte counters are the wire):
#   first_frame  ms from launch until the X screen shows the desktop (viewer_xprobe)
#   cpu          CPU ms per second (and, ours, per displayed frame) while the guest scrolls its whole screen
#                20×/s (labdesk.mode=animate)
#   bytes        bytes over the link per second of that
#   reconnect    ours: connect→first frame after a link cut vs the first connect
# Usage (root): bench/viewer_bench.sh BUILD_DIR [ROUNDS=3] [SECONDS=20]   (OURS_ARGS: extra viewer flags)
#   TLS=1: both consoles are VeNCrypt x509 (certificates from labdesk-boot-server's lab CA), ours
#   runs with --ca and TigerVNC with -SecurityTypes X509Vnc -X509CA, as a lab runs them.
set -euo pipefail
B=$(cd "$1" && pwd)
ROUNDS=${2:-3} SECS=${3:-20}
W=$(mktemp -d /tmp/labdesk-viewer-bench.XXXXXX)
source "$(dirname "$0")/../tests/integration/thin-client/lib.sh"
trap cleanup EXIT
VIEWER=$B/thin-client/labdesk-viewer PROBE=$B/bench/viewer_xprobe

LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
OURS_TLS=() TIGER_TLS=()
if [ -n "${TLS:-}" ]; then
  printf '[lab]\ninterface = "br0"\naddress = "%s/24"\ndhcp = "proxy"\n[boot]\nassets_dir = "%s"\nstate_dir = "%s/lab"\n[[hosts]]\nname = "h"\ncapacity_mib = 8192\n' \
    "$DESK_IP" "$W" "$W" > "$W/lab.toml"
  "$B/boot-server/labdesk-boot-server" -c "$W/lab.toml" --issue-console-certificate "$W/console-tls" >/dev/null
  export VM_TLS_DIR=$W/console-tls
  OURS_TLS=(--ca "$W/lab/tls/ca.crt") TIGER_TLS=(-SecurityTypes X509Vnc -X509CA "$W/lab/tls/ca.crt")
fi
"$HERE/mkinitrd.sh" "$W/initrd.gz"
net_up
vm S 0 2 static
vm M 1 4 animate
xvfb
poll 180 vm_ready S || die "VM S did not boot"
poll 180 vm_ready M || die "VM M did not boot"
vnc_password S pwS; vnc_password M pwM
# TigerVNC reads an obfuscated password file (DES with the fixed VNC key)
for v in S M; do
  printf "pw$v\0\0\0\0\0" | openssl enc -des-ecb -K e84ad660c4721ae0 -nopad -provider legacy -provider default > "$W/passwd-$v"
done
sleep 3  # let the static desktop settle
GREEN=00aa00
POINTS="2,765 1021,2 1021,765 512,600 300,700 900,400"

ours() {  # ours VM PORT EXTRA...
  local vm=$1 port=$2; shift 2
  ip netns exec "$NSC" env DISPLAY="$DISPLAY" SDL_VIDEODRIVER=x11 "$VIEWER" --vnc "$DESK_IP:$port" \
    --vnc-password "pw$vm" --renderer software --log-level error "${OURS_TLS[@]}" ${OURS_ARGS:-} "$@" &
}
tiger() {  # tiger VM PORT
  ip netns exec "$NSC" env DISPLAY="$DISPLAY" xtigervncviewer -FullScreen -passwd "$W/passwd-$1" "${TIGER_TLS[@]}" \
    -Log '*:stderr:0' "$DESK_IP:$2" 2>/dev/null &
}
cpu_ms() { awk '{print ($14+$15)*1000/'"$(getconf CLK_TCK)"'}' "/proc/$1/stat"; }
link_bytes() { echo $(( $(ip netns exec "$NSC" cat /sys/class/net/$VC/statistics/rx_bytes) + $(ip netns exec "$NSC" cat /sys/class/net/$VC/statistics/tx_bytes) )); }
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
blank() { poll 10 "$PROBE" 1 000000 512,600 >/dev/null; }  # screen back to the bare root

declare -A FF CPU BYTES FRAMES
for r in $(seq "$ROUNDS"); do
  # who goes first alternates per round, so neither viewer always follows the other
  order="ours tiger"; [ $((r % 2)) -eq 0 ] && order="tiger ours"
  for who in $order; do
    # time to first full frame (static green desktop)
    "$PROBE" 60 $GREEN $POINTS > "$W/probe" & P=$!
    if [ $who = ours ]; then ours S 5900; else tiger S 5900; fi; V=$!
    wait $P || true
    FF[$who]+="$(cat "$W/probe") "
    stop $V; blank || true
    # continuous change
    [ $who = ours ] && ours M 5901 --stats "$W/stats-$r" || tiger M 5901
    V=$!
    sleep 3  # past the first frame
    b0=$(link_bytes); c0=$(cpu_ms $V); t0=$(date +%s.%N)
    sleep "$SECS"
    c1=$(cpu_ms $V); b1=$(link_bytes); t1=$(date +%s.%N)
    f0=0
    stop $V; blank || true
    CPU[$who]+="$(python3 -c "print('%.1f' % (($c1-$c0)/($t1-$t0)))") "
    BYTES[$who]+="$(python3 -c "print('%.0f' % (($b1-$b0)/($t1-$t0)))") "
    if [ $who = ours ]; then FRAMES[$who]+="$(python3 -c "import json;print(json.load(open('$W/stats-$r'))['frames'])") "; fi
    say "round $r $who: first frame ms ${FF[$who]}cpu ms/s ${CPU[$who]}bytes/s ${BYTES[$who]}"
  done
done

# reconnect vs first connect (ours)
ours S 5900 --stats "$W/stats-reconnect"; V=$!
poll 30 "$PROBE" 1 $GREEN $POINTS >/dev/null
for i in 1 2 3; do
  ip -n "$NSC" link set "$VC" down; sleep 7; ip -n "$NSC" link set "$VC" up; sleep 8
done
stop $V

say "load average (1/5/15 min) at start: $LOAD0, at end: $(cut -d" " -f1-3 /proc/loadavg), $(nproc) cores"
python3 - "$W" "$ROUNDS" "$SECS" "${FF[ours]}" "${FF[tiger]}" "${CPU[ours]}" "${CPU[tiger]}" \
  "${BYTES[ours]}" "${BYTES[tiger]}" "${FRAMES[ours]}" <<'PY'
import json, statistics as st, sys
w, rounds, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
nums = lambda s: [float(x) for x in s.split() if x != "timeout"]
ff_o, ff_t, cpu_o, cpu_t, by_o, by_t, fr_o = map(nums, sys.argv[4:11])
m = st.median
rec = json.load(open(w + "/stats-reconnect"))
fps = m(fr_o) / (secs + 3) if fr_o else 0  # stats count from the start: 3 s settle + SECS
import os
print("\nlabdesk-viewer vs xtigervncviewer%s, %s rounds, medians (anchor: TigerVNC, same run)"
      % (" (consoles over VeNCrypt x509 TLS)" if os.environ.get("TLS") else "", rounds))
print("| metric | labdesk-viewer | TigerVNC | ratio |")
print("|---|---|---|---|")
print("| time to first full frame (ms, launch to screen) | %.0f | %.0f | %.2f |" % (m(ff_o), m(ff_t), m(ff_o) / m(ff_t)))
print("| CPU while the guest scrolls 20x/s (ms per s) | %.1f | %.1f | %.2f |" % (m(cpu_o), m(cpu_t), m(cpu_o) / m(cpu_t)))
print("| CPU per displayed frame (ms; TigerVNC's frames are not countable) | %.2f | | |" % (m(cpu_o) / fps if fps else 0))
print("| bytes over the wire (KiB per s) | %.0f | %.0f | %.2f |" % (m(by_o) / 1024, m(by_t) / 1024, m(by_o) / m(by_t)))
print("| frames shown by ours (per s) | %.1f | | |" % fps)
rf = rec["reconnect_first_frame_ms"]
print("| first connect to first frame (ms) | %d | | |" % rec["first_frame_ms"])
print("| reconnect to first frame (ms, median of %d) | %.0f | | %.2f x first connect |" % (len(rf), m(rf), m(rf) / max(1, rec["first_frame_ms"])))
print("| 7 s link cut: loss noticed -> picture back (ms) | %s | | |" % rec["outage_to_frame_ms"])
print("raw:", dict(ff_o=ff_o, ff_t=ff_t, cpu_o=cpu_o, cpu_t=cpu_t, bytes_o=by_o, bytes_t=by_t, frames_o=fr_o, reconnect=rec))
PY
