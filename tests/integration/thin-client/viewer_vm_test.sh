#!/usr/bin/env bash
# labdesk-viewer against real TCG VMs under Xvfb, through a fake boot-server (client API v1):
#   1. its screenshot matches QEMU's own screendump of the VM
#   2. text typed into its window (X key events via XTEST) reaches the VM
#   3. the client's link goes down for 10 s, then 60 s: it comes back to the same session alone
#   4. a 'moved' event: it follows to a second VM
#   0. the login screen refuses a wrong password and lets the right one in
#   5. an 'ended' event brings the login screen back; one login, fresh credentials per outage
# Usage (root): viewer_vm_test.sh BUILD_DIR   (SHORT=1 skips the 60 s outage)
set -euo pipefail
B=$(cd "$1" && pwd)
W=$(mktemp -d /tmp/labdesk-viewer-it.XXXXXX)
source "$(dirname "$0")/lib.sh"
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
VIEWER=$B/thin-client/labdesk-viewer XTYPE=$B/tests/integration/thin-client/xtype
MAX_DIFF=${MAX_DIFF:-3932}  # pixels of 1024x768 (0.5 %)

"$HERE/mkinitrd.sh" "$W/initrd.gz"
net_up
vm A 0 2 static   # green desktop
vm B 1 4 static   # blue desktop
xvfb
ip netns exec "$NSD" python3 "$HERE/../../fakes/fake_boot_server.py" $DESK_IP 8080 $DESK_IP 5900 pwA \
  >"$W/boot-server.log" 2>&1 &
PIDS+=($!)
poll 180 vm_ready A || die "VM A did not boot (see $W/serial-A.log)"
poll 180 vm_ready B || die "VM B did not boot"
vnc_password A pwA || die "QMP set_password A"
vnc_password B pwB || die "QMP set_password B"
poll 20 ip netns exec "$NSC" curl -sf "http://$DESK_IP:8080/test/state" -o /dev/null || die "fake boot-server"
say "VMs up, Xvfb $DISPLAY"

ip netns exec "$NSC" env DISPLAY="$DISPLAY" SDL_VIDEODRIVER=x11 "$VIEWER" \
  --server "http://$DESK_IP:8080" --client-id pc-01 \
  --screenshot "$W/shot.png" --stats "$W/stats.json" --renderer software --exit-after 900 \
  >"$W/viewer.log" 2>&1 &
VPID=$!
PIDS+=($VPID)
frames() { grep -c 'first full frame' "$W/viewer.log" || true; }
more_frames_than() { [ "$(frames)" -gt "$1" ]; }
shoot() {  # a fresh screenshot through SIGUSR1
  rm -f "$W/shot.png"; kill -USR1 $VPID; poll 20 test -s "$W/shot.png"
}
match() {  # match VM FILE: the viewer's screenshot vs QEMU's screendump
  screendump "$1" "$W/dump-$1.ppm" || die "screendump $1"
  local d; d=$(pixel_diff "$W/shot.png" "$W/dump-$1.ppm")
  say "screenshot vs screendump of $1: $d differing pixels (max $MAX_DIFF)"
  [ "$d" -le "$MAX_DIFF" ]
}
state() { ip netns exec "$NSC" curl -sf "http://$DESK_IP:8080/test/state"; }

# 0. the login screen: a wrong password is refused and the screen stays; the right one gets in
LOGIN_BG=18263a
PROBE=$B/bench/viewer_xprobe
"$PROBE" 60 $LOGIN_BG 5,5 1019,763 >/dev/null || die "no login screen"
"$XTYPE" $'ana\twrong'
poll 30 bash -c "ip netns exec $NSC curl -sf http://$DESK_IP:8080/test/state | grep -q '\"bad_logins\": 1'" \
  || die "the wrong password did not reach the boot-server: $(state)"
"$PROBE" 5 $LOGIN_BG 5,5 >/dev/null || die "left the login screen after a wrong password"
grep -q "Wrong user name or password" "$W/viewer.log" || die "no wrong-password message"
"$XTYPE" 'secret'
say "login screen: wrong password refused with a message, right one accepted"

# 1. screenshot == screendump
poll 60 test -s "$W/shot.png" || die "no screenshot (see $W/viewer.log)"
match A || die "viewer picture differs from VM A's screen"

# 2. typing
TEXT='Hello, labdesk! 42 a=b_c'
"$XTYPE" "$TEXT"
poll 60 grep -qF "TYPED:$TEXT" "$W/serial-A.log" || die "typed text did not reach VM A: $(grep TYPED "$W/serial-A.log" || true)"
say "typed text reached VM A (serial: $(grep -F TYPED "$W/serial-A.log" | tail -1))"

# 3. link down for 10 s and 60 s
outage() {
  local secs=$1 before; before=$(frames)
  say "link down for $secs s"
  ip -n "$NSC" link set "$VC" down
  sleep $((secs - 2))
  # mid-outage: the last frame stays on screen (not black) under the "Reconnecting" overlay
  import -window root "$W/outage.png"
  local corner band
  corner=$(convert "$W/outage.png" -format '%[pixel:p{5,700}]' info:)
  band=$(convert "$W/outage.png" -format '%[pixel:p{5,384}]' info:)
  say "during the outage: desktop corner $corner, overlay band $band"
  case "$corner" in *"(0,0,0)"*|black) die "screen went black during the outage" ;; esac
  [ "$corner" != "$band" ] || die "no reconnecting overlay during the outage"
  sleep 2
  ip -n "$NSC" link set "$VC" up
  local t0; t0=$(date +%s.%N)
  poll 60 more_frames_than "$before" || die "no reconnect within 60 s after a $secs s outage"
  say "back $(python3 -c "print('%.1f' % ($(date +%s.%N)-$t0))") s after the link returned: $(grep 'first full frame' "$W/viewer.log" | tail -1 | sed 's/.*info viewer: //')"
  grep -q "Reconnecting\|reconnecting" "$W/viewer.log" || die "the viewer never noticed the outage"
  shoot || die "no screenshot after reconnecting"
  match A || die "picture after reconnecting differs"
}
outage 10
[ -n "${SHORT:-}" ] || outage 60
S=$(state)
echo "$S" | python3 -c 'import json,sys; s=json.load(sys.stdin); assert s["logins"]==1, s; assert s["credential_calls"]>=1, s' \
  || die "expected one login and fresh credentials: $S"
say "same session: 1 login, $(echo "$S" | python3 -c 'import json,sys; print(json.load(sys.stdin)["credential_calls"])') credential fetches"

# 4. handoff: the boot-server says the session moved to VM B
before=$(frames)
ip netns exec "$NSC" curl -sf -X POST -d "{\"host\":\"$DESK_IP\",\"port\":5901,\"vnc_password\":\"pwB\"}" \
  "http://$DESK_IP:8080/test/move" >/dev/null
poll 60 more_frames_than "$before" || die "did not follow the move"
# The first new frames may still be A's (the switch is in flight): wait until the picture is B's.
on_b() { shoot && match B; }
poll 30 on_b || die "after the move the picture is not VM B's"
screendump A "$W/dump-A.ppm"
dA=$(pixel_diff "$W/shot.png" "$W/dump-A.ppm")
[ "$dA" -gt 100000 ] || die "VM A and B look alike ($dA): the move check proves nothing"
"$XTYPE" "now on B"
poll 60 grep -qF "TYPED:now on B" "$W/serial-B.log" || die "typing after the move did not reach VM B"
state | python3 -c 'import json,sys; s=json.load(sys.stdin); assert len(s["acks"])==1 and s["acks"][0]>=0, s' \
  || die "the viewer did not ack the move: $(state)"
say "followed the move to VM B (frozen $(state | python3 -c 'import json,sys; print(json.load(sys.stdin)["acks"][0])') ms, acked); typing reaches B"

# 5. the session ends: the login screen is back for the next student, with the reason
ip netns exec "$NSC" curl -sf -X POST -d '{"reason":"test over"}' "http://$DESK_IP:8080/test/end" >/dev/null
"$PROBE" 30 $LOGIN_BG 5,5 1019,763 >/dev/null || die "no login screen after 'ended'"
grep -q "session ended: test over" "$W/viewer.log" || die "the end reason was not taken"
kill -TERM $VPID
poll 30 bash -c "! kill -0 $VPID 2>/dev/null" || die "viewer did not quit on SIGTERM"
wait $VPID || die "viewer exit code $?"
say "stats: $(cat "$W/stats.json")"
python3 - "$W/stats.json" <<'PY' || die "stats"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["phase"] == "login", s
assert s["connections"] >= 3 and len(s["outage_to_frame_ms"]) >= 1, s
PY
say "PASS"
