#!/usr/bin/env python3
"""Integration test of the thin-client initramfs (pxe-assets/thin-client): boots it with QEMU TCG
in a fresh network namespace (bridge + tap, DHCP from dnsmasq) and checks the JSON announce that
reaches a listener of our own.

  thin_client_test.py ASSETS_DIR PXE_ASSETS_SRC virtio   virtio-net; the listener comes up only
                                                         after the first announce failed (retry);
                                                         console shell (labdesk.shell=1)
  thin_client_test.py ASSETS_DIR PXE_ASSETS_SRC e1000    e1000; an initramfs with a stand-in
                                                         labdesk-viewer: the hook runs it
  thin_client_test.py ASSETS_DIR PXE_ASSETS_SRC viewer VIEWER_BINARY
                     the real image: its screen (QMP screendump) shows the viewer's login screen
                     as the same viewer draws it under Xvfb; user and password typed on the PC's
                     keyboard reach a fake boot-server (tests/fakes) with this PC's client id; a USB
                     keyboard plugged in later restarts X with it, and the login works again
  thin_client_test.py ASSETS_DIR PXE_ASSETS_SRC efifb VIEWER_BINARY
                     the same on a UEFI PC (OVMF) without a DRM driver (nomodeset): X runs on the
                     firmware's framebuffer (efifb, Xorg's fbdev driver), as on a real PC whose
                     GPU driver is not in modules.list"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "scripts", "lab"))
from pxe_lab import Lab  # noqa: E402
from labvm import VM, TestFailure, check, cleanup_dir, log, need_root, workdir  # noqa: E402

from labvm import GW  # noqa: E402
import viewer_screen  # noqa: E402
FAKE_SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fakes",
                           "fake_boot_server.py")
URL = f"http://{GW}:8080/v1/announce"


def wait_announce(path, vm, timeout):
    deadline = time.monotonic() + timeout
    while True:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            line = open(path).readline()
            if line.endswith("\n"):
                return json.loads(line)
        check(vm.proc.poll() is None, f"qemu exited; serial:\n{vm.text()[-1500:]}")
        check(time.monotonic() < deadline, f"no announce within {timeout} s; serial:\n{vm.text()[-2000:]}")
        time.sleep(0.1)


def check_announce(rec, mac, lab):
    check(rec["path"] == "/v1/announce", f"announce went to {rec['path']}")
    check(rec["content_type"] == "application/json", f"Content-Type {rec['content_type']!r}")
    a = json.loads(rec["body"])
    check(sorted(a) == ["cpu", "ip", "mac", "mem_mib", "uptime_s"], f"announce keys: {sorted(a)}")
    check(a["mac"] == mac, f"announce mac {a['mac']!r}, the VM's is {mac}")
    leases = open(lab.leases).read()
    check(f" {mac} {a['ip']} " in leases, f"announce ip {a['ip']} is not the lease of {mac}: {leases!r}")
    check(isinstance(a["uptime_s"], (int, float)) and 0 < a["uptime_s"] < 300, f"uptime_s {a['uptime_s']!r}")
    check(a["cpu"] == 1, f"cpu {a['cpu']!r} (the VM has 1)")
    check(isinstance(a["mem_mib"], int) and 200 < a["mem_mib"] <= 512, f"mem_mib {a['mem_mib']!r}")
    return a


def test_virtio(assets, src):
    d = workdir("tc-virtio")
    ok, lab, vm = False, None, None
    try:
        lab = Lab(d)
        mac = "52:54:00:77:01:01"
        out = os.path.join(d, "announces.jsonl")
        vm = VM(d, "tc", ["-kernel", os.path.join(assets, "vmlinuz"),
                          "-initrd", os.path.join(assets, "thin-client", "initrd.cpio.gz"),
                          "-append", f"console=ttyS0 labdesk.announce={URL} labdesk.shell=1",
                          "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
                          "-device", f"virtio-net-pci,netdev=n0,mac={mac}"],
                netns=lab.ns, mem_mib=512)
        # the boot-server is not up yet: the thin client must keep trying
        vm.wait_for(r"LABDESK-TC: announce to \S+ failed", 90)
        log(f"tc: first announce failed as expected at {vm.elapsed():.1f} s; starting the listener")
        lab.listener(out)
        rec = wait_announce(out, vm, 60)
        a = check_announce(rec, mac, lab)
        m = vm.wait_for(r"LABDESK-TC: announced mac=(\S+) ip=(\S+)", 20)
        check(m.group(1) == mac and m.group(2) == a["ip"], f"console line {m.group(0)!r}")
        log(f"tc: announce after retry: {rec['body']} (wall {vm.elapsed():.1f} s)")
        rc, o = vm.sh("echo $((6 * 7)); cat /proc/cmdline", timeout=10, attempts=4)
        check(o.startswith("42"), f"console shell (labdesk.shell=1) did not answer: {o!r}")
        vm.stop()
        ok = True
        log("PASS thin-client virtio")
    finally:
        if vm:
            vm.stop()
        if lab:
            lab.close()
        cleanup_dir(d, ok)


def test_e1000(assets, src):
    d = workdir("tc-e1000")
    ok, lab, vm = False, None, None
    try:
        # an initramfs with a stand-in viewer, built the way an admin adds the real one
        overlay = os.path.join(d, "overlay")
        os.makedirs(os.path.join(overlay, "usr", "bin"))
        viewer = os.path.join(overlay, "usr", "bin", "labdesk-viewer")
        with open(viewer, "w") as f:
            f.write('#!/bin/sh\necho "FAKE-VIEWER started with: $*" > /dev/console\nexec sleep 3600\n')
        os.chmod(viewer, 0o755)
        tc_out = os.path.join(d, "assets")
        env = dict(os.environ, LABDESK_TC_OVERLAY=overlay, LABDESK_VIEWER="none")
        subprocess.run([os.path.join(src, "thin-client", "build.sh"), tc_out], check=True, env=env,
                       stdout=subprocess.DEVNULL)

        lab = Lab(d)
        out = os.path.join(d, "announces.jsonl")
        lab.listener(out)
        mac = "52:54:00:77:01:02"
        vm = VM(d, "tc", ["-kernel", os.path.join(assets, "vmlinuz"),
                          "-initrd", os.path.join(tc_out, "thin-client", "initrd.cpio.gz"),
                          "-append", f"console=ttyS0 labdesk.announce={URL} labdesk.server=http://{GW}:8443",
                          "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
                          "-device", f"e1000,netdev=n0,mac={mac}"],
                netns=lab.ns, mem_mib=512)
        rec = wait_announce(out, vm, 90)
        a = check_announce(rec, mac, lab)
        m = vm.wait_for(r"LABDESK-TC: announced mac=(\S+)", 20)
        check(m.group(1) == mac, f"console line {m.group(0)!r}")
        log(f"tc-e1000: announced at guest uptime {a['uptime_s']} s (wall {vm.elapsed():.1f} s): {rec['body']}")
        host = "labdesk-tc-" + mac.replace(":", "")
        vm.wait_for(rf"FAKE-VIEWER started with: --server http://{GW}:8443 --client-id {host}\r?\n", 30)
        vm.stop()
        ok = True
        log("PASS thin-client e1000 + viewer hook")
    finally:
        if vm:
            vm.stop()
        if lab:
            lab.close()
        cleanup_dir(d, ok)


def fake_state(lab):
    r = subprocess.run(["ip", "netns", "exec", lab.ns, "curl", "-s", "--max-time", "10",
                        f"http://{GW}:8080/test/state"], capture_output=True, text=True)
    return json.loads(r.stdout) if r.returncode == 0 and r.stdout else None


def wait_login_screen(vm, d, timeout):
    """Polls the PC's screen (QMP screendump) until it shows the viewer's login screen."""
    shot = os.path.join(d, "screen.ppm")
    deadline = time.monotonic() + timeout
    while True:
        w, h, rgb = vm.screendump(shot)
        if viewer_screen.is_login_screen(w, h, rgb):
            return w, h, rgb
        check(vm.proc.poll() is None, f"qemu exited; serial:\n{vm.text()[-2000:]}")
        check(time.monotonic() < deadline, f"no login screen on the PC's screen within {timeout} s "
              f"(last screendump {w}x{h} in {shot}); serial:\n{vm.text()[-3000:]}")
        time.sleep(1)


def login(vm, lab, n, host):
    """Types ana/secret on the PC's keyboard; the fake boot-server must count login number n."""
    vm.type_text("ana\tsecret\n")
    deadline = time.monotonic() + 60
    while True:
        st = fake_state(lab) or {}
        if st.get("logins", 0) >= n or st.get("bad_logins", 0) > 0:
            break
        check(time.monotonic() < deadline, f"login {n} did not reach the boot-server within 60 s; "
              f"state {st}; serial:\n{vm.text()[-2000:]}")
        time.sleep(0.5)
    check(st["logins"] == n and st["bad_logins"] == 0,
          f"the typed user/password did not log in as ana/secret: {st}")
    check(st["login_clients"] == [host] * n, f"login client_id {st['login_clients']}, expected {host}")
    vm.wait_for(r"LABDESK-TC: viewer: .*logged in as 'ana'", 30)


def test_viewer(assets, src, viewer, efifb=False):
    d = workdir("tc-efifb" if efifb else "tc-viewer")
    ok, lab, vm = False, None, None
    try:
        lab = Lab(d)
        server = f"http://{GW}:8080"
        fake = lab.start("fake-boot-server", [sys.executable, FAKE_SERVER, GW, "8080", GW, "5999", "vncpw"])
        deadline = time.monotonic() + 15
        while fake_state(lab) is None:
            check(fake.poll() is None and time.monotonic() < deadline,
                  "fake boot-server not up: " + open(os.path.join(d, "fake-boot-server.log")).read())
            time.sleep(0.2)
        mac = "52:54:00:77:01:03"
        host = "labdesk-tc-" + mac.replace(":", "")
        firmware, extra, screen = ["-device", "qemu-xhci,id=xhci"], "", "modesetting on /dev/dri/card0 (bochs-drm)"
        if efifb:
            shutil.copy("/usr/share/OVMF/OVMF_VARS.fd", os.path.join(d, "OVMF_VARS.fd"))
            firmware = ["-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd",
                        "-drive", f"if=pflash,format=raw,file={os.path.join(d, 'OVMF_VARS.fd')}"]
            extra, screen = " nomodeset", "fbdev on /dev/fb0 (EFI VGA)"   # bochs refuses nomodeset
        vm = VM(d, "tc", firmware + [
                          "-kernel", os.path.join(assets, "vmlinuz"),
                          "-initrd", os.path.join(assets, "thin-client", "initrd.cpio.gz"),
                          "-append", f"console=ttyS0 labdesk.server={server} labdesk.shell=1{extra}",
                          "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
                          "-device", f"virtio-net-pci,netdev=n0,mac={mac}"],
                netns=lab.ns, mem_mib=512)
        m = vm.wait_for(r"LABDESK-TC: display: starting Xorg screen=(.*?) inputs=\[(.*?)\] uptime=(\S+)", 180)
        log(f"tc-viewer: X on {m.group(1)}, input devices: {m.group(2)} (guest uptime {m.group(3)} s)")
        check(m.group(1) == screen and "keyboard" in m.group(2).lower(),
              f"X should run with {screen} and the PS/2 keyboard: {m.group(0)!r}")
        mv = vm.wait_for(rf"LABDESK-TC: starting labdesk-viewer --server {re.escape(server)} "
                         rf"--client-id {host} uptime=(\S+)", 180)
        w, h, screen = wait_login_screen(vm, d, 240)
        log(f"tc-viewer: login screen {w}x{h} on the PC's screen {vm.elapsed():.1f} s after QEMU started "
            f"(viewer started at guest uptime {mv.group(1)} s)")
        ref = viewer_screen.reference(d, viewer, lab.ns, server, host, w, h)
        same = viewer_screen.same_fraction(screen, ref)
        log(f"tc-viewer: {same * 100:.2f} % of the pixels equal the Xvfb reference")
        check(same > 0.98, f"the PC's screen differs from the viewer's login screen under Xvfb "
              f"({same * 100:.2f} % equal; pictures in {d})")

        login(vm, lab, 1, host)
        log(f"tc-viewer: typed login reached the boot-server as ana from {host}")
        if not efifb:
            # no udev: X learns of a new keyboard by a restart, and the PC is at the login screen again
            start = len(vm.text())
            vm.qmp_cmd("device_add", driver="usb-kbd", id="kbd2", bus="xhci.0")
            vm.wait_for(r"LABDESK-TC: display: new input device \S+ \([^)]*USB[^)]*\): restarting X", 60, start)
            m = vm.wait_for(r"LABDESK-TC: display: starting Xorg screen=.*? inputs=\[(.*?)\]", 60, start)
            check("USB" in m.group(1), f"the restarted X lacks the USB keyboard: {m.group(0)!r}")
            w2, h2, screen2 = wait_login_screen(vm, d, 120)
            same = viewer_screen.same_fraction(screen2, ref)
            check(same > 0.98, f"after the X restart the screen is not the login screen ({same * 100:.2f} %)")
            login(vm, lab, 2, host)
            log(f"tc-viewer: USB keyboard plugged in: X restarted with it ({m.group(1)}), login again")
        rc, o = vm.sh("echo $((6 * 7))", timeout=30, attempts=3)
        check(o.startswith("42"), f"console shell (labdesk.shell=1) did not answer: {o!r}")
        vm.stop()
        ok = True
        log(f"PASS thin-client {'efifb' if efifb else 'viewer'}")
    finally:
        if vm:
            vm.stop()
        if lab:
            lab.close()
        cleanup_dir(d, ok)


def main():
    need_root()
    assets, src, case = sys.argv[1], sys.argv[2], sys.argv[3]
    for f in ("vmlinuz", "thin-client/initrd.cpio.gz"):
        if not os.path.exists(os.path.join(assets, f)):
            sys.exit(f"missing {assets}/{f}: build the 'pxe-assets' target first")
    try:
        if case in ("viewer", "efifb"):
            test_viewer(assets, src, sys.argv[4], efifb=case == "efifb")
        else:
            {"virtio": test_virtio, "e1000": test_e1000}[case](assets, src)
    except TestFailure as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
