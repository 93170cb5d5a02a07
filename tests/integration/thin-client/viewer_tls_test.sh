#!/usr/bin/env bash
# The console over TLS, as a lab runs it: QEMU's VNC with VeNCrypt x509 + a VNC password,
# certificates from labdesk's own lab CA (labdesk-boot-server --issue-console-certificate).
#   1. labdesk-viewer --ca LAB_CA shows the desktop;
#   2. with another CA it refuses the console (no picture);
#   3. a console without TLS gets no password from a viewer that demands TLS;
#   4. TigerVNC's viewer connects to the same console the same way (-SecurityTypes X509Vnc).
# Usage (root): viewer_tls_test.sh BUILD_DIR
set -euo pipefail
B=$(cd "$1" && pwd)
W=$(mktemp -d /tmp/labdesk-viewer-tls.XXXXXX)
source "$(dirname "$0")/lib.sh"
trap cleanup EXIT
VIEWER=$B/thin-client/labdesk-viewer PROBE=$B/bench/viewer_xprobe BOOT=$B/boot-server/labdesk-boot-server

# The viewer dials the console at DESK_IP, so that is the name the certificate holds (in a lab:
# the boot-server's lab address, where every desktop's forward is).
lab_toml() {  # lab_toml STATE_DIR
  printf '[lab]\ninterface = "br0"\naddress = "%s/24"\ndhcp = "proxy"\n[boot]\nassets_dir = "%s"\nstate_dir = "%s"\n[[hosts]]\nname = "h"\ncapacity_mib = 8192\n' \
    "$DESK_IP" "$W" "$1"
}
lab_toml "$W/lab" > "$W/lab.toml"
lab_toml "$W/other" > "$W/other.toml"
"$BOOT" -c "$W/lab.toml" --issue-console-certificate "$W/console-tls" || die "--issue-console-certificate"
"$BOOT" -c "$W/other.toml" --issue-console-certificate "$W/other-tls" >/dev/null || die "a second lab CA"
test "$(stat -c %a "$W/console-tls/server-key.pem")" = 600 || die "the console key is not 0600"

"$HERE/mkinitrd.sh" "$W/initrd.gz"
net_up
VM_TLS_DIR=$W/console-tls vm T 0 2 static   # TLS console on DESK_IP:5900, green
vm P 1 4 static                             # plain console on DESK_IP:5901
xvfb
poll 180 vm_ready T || die "VM T did not boot"
poll 180 vm_ready P || die "VM P did not boot"
vnc_password T pwT; vnc_password P pwP

view() {  # view PORT PASSWORD CA NAME: the viewer for 8 s with a screenshot; its log in W/NAME.log
  ip netns exec "$NSC" env DISPLAY="$DISPLAY" SDL_VIDEODRIVER=x11 timeout 60 "$VIEWER" --vnc "$DESK_IP:$1" \
    --vnc-password "$2" ${3:+--ca "$3"} --windowed 640x400 --screenshot "$W/$4.png" --exit-after 8 \
    --log-level info >"$W/$4.log" 2>&1 || true
}

say "1. the lab CA: the desktop over TLS"
view 5900 pwT "$W/lab/tls/ca.crt" tls
test -s "$W/tls.png" || die "no picture over TLS: $(tail -5 "$W/tls.log")"

say "2. another lab's CA: refused"
view 5900 pwT "$W/other/tls/ca.crt" other
test ! -e "$W/other.png" || die "a console whose certificate chains to another CA was shown"
grep -q "over TLS" "$W/other.log" || die "no clear error for an untrusted console: $(tail -5 "$W/other.log")"

say "3. a console without TLS: no password sent"
view 5901 pwP "$W/lab/tls/ca.crt" plain
test ! -e "$W/plain.png" || die "a console without TLS was shown to a viewer that demands TLS"
grep -q "over TLS" "$W/plain.log" || die "no clear error for a plain console: $(tail -5 "$W/plain.log")"

say "4. TigerVNC with the same lab CA"
printf "pwT\0\0\0\0\0" | openssl enc -des-ecb -K e84ad660c4721ae0 -nopad -provider legacy -provider default > "$W/passwd"
ip netns exec "$NSC" env DISPLAY="$DISPLAY" xtigervncviewer -FullScreen -SecurityTypes X509Vnc \
  -X509CA "$W/lab/tls/ca.crt" -passwd "$W/passwd" -Log '*:stderr:30' "$DESK_IP:0" >"$W/tiger.log" 2>&1 &
PIDS+=($!)
"$PROBE" 60 00aa00 512,600 >/dev/null || die "TigerVNC did not show the TLS console: $(tail -5 "$W/tiger.log")"
say "PASS viewer over TLS"
