#!/usr/bin/env python3
"""Integration test of the labdesk test desktop image (pxe-assets/desktop), booted with QEMU TCG
the way the hypervisor-agent boots it: a fresh qcow2 overlay on the read-only base as /dev/vda,
the user's data disk as /dev/vdb, direct kernel boot.

  desktop_test.py ASSETS_DIR persist   two boots on one data disk: ready line, user, data disk,
                                       bootcount, overlay thrown away, keyboard, balloon, screen,
                                       clean poweroff on the ACPI power button
  desktop_test.py ASSETS_DIR nodata    a blank data disk is reported and left alone; no disk;
                                       labdesk.anim=1; a reused overlay keeps / (control)"""
import hashlib
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "scripts", "lab"))
from labvm import VM, TestFailure, check, cleanup_dir, log, need_root, workdir  # noqa: E402

READY = r"LABDESK: ready user=(\S+) mem_mib=(\d+) data=(\S+) uptime=([\d.]+)"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def make_overlay(d, assets, name):
    path = os.path.join(d, name)
    run("qemu-img", "create", "-q", "-f", "qcow2", "-b",
        os.path.join(assets, "desktop", "base.qcow2"), "-F", "qcow2", path)
    return path


def make_data_disk(d, formatted):
    """The user's data disk as the agent makes it: qcow2, ext4 labelled labdesk-data."""
    raw = os.path.join(d, "data.raw")
    run("truncate", "-s", "128M", raw)
    if formatted:
        run("mkfs.ext4", "-q", "-L", "labdesk-data", raw)
    path = os.path.join(d, "data.qcow2")
    run("qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, path)
    os.unlink(raw)
    return path


def boot(d, assets, name, overlay, data, user, mem=512, extra=""):
    args = ["-kernel", os.path.join(assets, "vmlinuz"),
            "-initrd", os.path.join(assets, "desktop", "initrd.cpio.gz"),
            "-append", f"console=ttyS0 labdesk.user={user} labdesk.session=t-{name} {extra}".strip(),
            "-drive", f"file={overlay},if=virtio,format=qcow2",
            "-device", "virtio-balloon-pci,id=balloon0", "-nic", "none"]
    if data:
        args += ["-drive", f"file={data},if=virtio,format=qcow2"]
    vm = VM(d, name, args, mem_mib=mem)
    return vm


def wait_ready(vm, timeout=90):
    m = vm.wait_for(READY, timeout)
    log(f"{vm.name}: ready after {vm.elapsed():.1f} s wall (guest uptime {m.group(4)} s): {m.group(0)}")
    vm.sh("true", timeout=5, attempts=6)   # the ttyS0 shell answers
    return m


def screen_check(vm, path):
    """The VGA screen is not blank and carries the banner: white-on-blue top rows."""
    w, h, rgb = vm.screendump(path)
    check(w >= 640 and h >= 400, f"screen {w}x{h} is smaller than expected")
    px = [rgb[i:i + 3] for i in range(0, len(rgb), 3 * 7)]
    distinct = len(set(px))
    lit = sum(1 for p in px if p != b"\0\0\0")
    check(distinct >= 3 and lit > len(px) // 200,
          f"screen looks blank: {distinct} colours, {lit} of {len(px)} sampled pixels lit")
    top = rgb[: w * 3 * 12]   # the first 12 pixel rows: the banner line
    blue = sum(1 for i in range(0, len(top), 3) if top[i + 2] > 120 and top[i] < 100)
    check(blue > w * 12 // 3, f"no banner on the top line of the screen ({blue} blue pixels)")
    log(f"{vm.name}: screen {w}x{h}, {distinct} colours sampled, banner present")


def test_persist(assets):
    d = workdir("desktop-persist")
    ok = False
    vm = None
    try:
        base = os.path.join(assets, "desktop", "base.qcow2")
        base_hash = sha256(base)
        data = make_data_disk(d, formatted=True)

        # boot 1
        vm = boot(d, assets, "boot1", make_overlay(d, assets, "overlay1.qcow2"), data, "alice")
        m = wait_ready(vm)
        check(m.group(1) == "alice", f"ready line names user '{m.group(1)}', not alice")
        check(m.group(3) == "mounted", f"data disk is '{m.group(3)}', not mounted")
        rc, out = vm.sh("cat /data/bootcount")
        check(rc == 0 and out.strip() == "1", f"bootcount on a new data disk is '{out.strip()}', not 1")
        rc, out = vm.sh("grep ' /data ' /proc/mounts")
        check(rc == 0 and out.startswith("/dev/vdb /data ext4 rw"), f"/data mount: {out!r}")
        rc, out = vm.sh("echo overlay-marker > /root/marker && sync && cat /root/marker")
        check(out.strip() == "overlay-marker", f"cannot write to the root overlay: {out!r}")

        # the banner on tty1 (also kept in /run/labdesk/banner) names the user and the memory
        deadline = time.monotonic() + 20
        while True:
            rc, banner = vm.sh("cat /run/labdesk/banner")
            if rc == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        check("user: alice" in banner and "data disk: mounted (1 files)" in banner
              and "memory: " in banner, f"banner text: {banner!r}")
        screen_check(vm, os.path.join(d, "boot1.ppm"))

        # keyboard (what VNC sends) reaches the tty1 shell
        vm.type_text("echo typed-on-vga > /tmp/kbd\n")
        deadline = time.monotonic() + 20
        while True:
            rc, out = vm.sh("cat /tmp/kbd")
            if out.strip() == "typed-on-vga" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        check(out.strip() == "typed-on-vga", f"text typed on the VGA console did not run: {out!r}")

        # balloon: MemTotal follows, the banner and a serial line show it
        mem_before = int(m.group(2))
        start = len(vm.text())
        vm.qmp_cmd("balloon", value=256 * 1024 * 1024)
        vm.wait_for(r"LABDESK: memory mem_mib=(\d+)", 30, start)
        # the balloon deflates in steps: wait until MemTotal is down by ~256 MiB
        deadline = time.monotonic() + 30
        while True:
            seen = re.findall(r"LABDESK: memory mem_mib=(\d+)", vm.text()[start:])
            mem_after = int(seen[-1])
            if mem_after < mem_before - 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        check(mem_after < mem_before - 200, f"balloon to 256 MiB: mem_mib {mem_before} -> {seen}")
        deadline = time.monotonic() + 10
        while True:   # the banner redraws every 2 s
            rc, banner = vm.sh("cat /run/labdesk/banner")
            if f"memory: {mem_after} MiB" in banner or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        check(f"memory: {mem_after} MiB" in banner, f"banner after balloon to {mem_after}: {banner!r}")
        log(f"boot1: balloon 512 -> 256 MiB: MemTotal {mem_before} -> {mem_after} MiB, banner follows")
        vm.stop()

        check(sha256(base) == base_hash, "base.qcow2 changed during a boot")

        # boot 2: same data disk, fresh overlay
        vm = boot(d, assets, "boot2", make_overlay(d, assets, "overlay2.qcow2"), data, "alice")
        m = wait_ready(vm)
        check(m.group(3) == "mounted", f"boot2: data disk is '{m.group(3)}'")
        rc, out = vm.sh("cat /data/bootcount")
        check(out.strip() == "2", f"bootcount after the second boot is '{out.strip()}', not 2")
        rc, out = vm.sh("ls /root/marker")
        check(rc != 0, "a file written to / in the first boot survived into a fresh overlay")
        rc, out = vm.sh("cd /data && find . -type f | sort")
        check(out.split() == ["./bootcount"], f"the desktop wrote more than bootcount to /data: {out!r}")
        # the ACPI power button (virsh shutdown) powers off cleanly, data disk unmounted first
        vm.qmp_cmd("system_powerdown")
        vm.wait_for(r"LABDESK: shutdown data=unmounted", 60)
        vm.wait_exit(60)
        log("boot2: ACPI power button -> clean poweroff, /data unmounted")
        vm.stop()

        check(sha256(base) == base_hash, "base.qcow2 changed during a boot")
        ok = True
        log("PASS desktop persist")
    finally:
        if vm:
            vm.stop()
        cleanup_dir(d, ok)


def test_nodata(assets):
    d = workdir("desktop-nodata")
    ok = False
    vm = None
    try:
        data = make_data_disk(d, formatted=False)
        before = sha256(data)
        vm = boot(d, assets, "blank", make_overlay(d, assets, "o1.qcow2"), data, "bob",
                  extra="labdesk.anim=1")
        m = wait_ready(vm)
        check(m.group(1) == "bob" and m.group(3) == "unformatted",
              f"blank data disk: ready line {m.group(0)!r}")
        vm.wait_for(r"LABDESK: warning data disk /dev/vdb has no filesystem", 1)
        rc, banner = vm.sh("cat /run/labdesk/banner", attempts=3)
        check("NOT FORMATTED" in banner, f"banner with a blank data disk: {banner!r}")
        rc, out = vm.sh("grep -c ' /data ' /proc/mounts")
        check(out.strip() == "0", "something is mounted on /data with a blank data disk")
        # anim=1: the screen keeps changing
        w, h, s1 = vm.screendump(os.path.join(d, "a1.ppm"))
        time.sleep(1.0)
        w, h, s2 = vm.screendump(os.path.join(d, "a2.ppm"))
        check(s1 != s2, "labdesk.anim=1: the screen did not change within 1 s")
        rc, out = vm.sh("echo overlay-marker > /root/marker && sync && cat /root/marker")
        check(out.strip() == "overlay-marker", f"cannot write to the root overlay: {out!r}")
        vm.stop()
        check(sha256(data) == before, "the blank data disk was written to")

        # the same overlay again (unlike a fresh one, see persist): / keeps what was written
        vm = boot(d, assets, "nodisk", os.path.join(d, "o1.qcow2"), None, "carol")
        m = wait_ready(vm)
        check(m.group(1) == "carol" and m.group(3) == "missing", f"no data disk: {m.group(0)!r}")
        rc, out = vm.sh("cat /root/marker")
        check(out.strip() == "overlay-marker", f"control: a reused overlay lost /root/marker: {out!r}")
        vm.stop()
        ok = True
        log("PASS desktop nodata")
    finally:
        if vm:
            vm.stop()
        cleanup_dir(d, ok)


def main():
    need_root()
    assets, case = sys.argv[1], sys.argv[2]
    for f in ("vmlinuz", "desktop/base.qcow2", "desktop/initrd.cpio.gz"):
        if not os.path.exists(os.path.join(assets, f)):
            sys.exit(f"missing {assets}/{f}: build the 'pxe-assets' target first")
    try:
        {"persist": test_persist, "nodata": test_nodata}[case](assets)
    except TestFailure as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
