#!/usr/bin/env python3
"""PXE boot of a diskless lab PC with the shipped iPXE template: dnsmasq (DHCP + TFTP) hands
QEMU's iPXE ROM the rendered ipxe/boot.ipxe, which fetches vmlinuz and the thin-client initramfs
over HTTP; the thin client announces itself. Checks the announce (the PC's MAC) and the PC's
screen, and records power-on -> announce.

  pxe_test.py ASSETS_DIR bios|uefi"""
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
from labvm import GW, VM, TestFailure, check, cleanup_dir, log, need_root, workdir  # noqa: E402

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS.fd"


CA_MARKER = "-----BEGIN CERTIFICATE-----\nlabdesk pxe test CA\n-----END CERTIFICATE-----\n"


def render_boot_ipxe(template, out, base, extra):
    text = open(template).read()
    for k, v in {"@HTTP_BASE@": base, "@ANNOUNCE_URL@": f"{base}/v1/announce",
                 "@SERVER_URL@": base, "@LAB_CA_URL@": f"{base}/lab-ca.cpio.gz", "@EXTRA_ARGS@": extra}.items():
        text = text.replace(k, v)
    left = re.findall(r"@[A-Z_]+@", text)
    check(not left, f"boot.ipxe has placeholders the test does not know: {left}")
    open(out, "w").write(text)


def test(assets, firmware):
    d = workdir(f"pxe-{firmware}")
    ok, lab, vm = False, None, None
    try:
        tftp = os.path.join(d, "tftp")
        os.makedirs(tftp)
        os.chmod(d, 0o755)   # dnsmasq serves TFTP as 'nobody'
        os.chmod(tftp, 0o755)
        base = f"http://{GW}:8080"
        render_boot_ipxe(os.path.join(assets, "ipxe", "boot.ipxe"), os.path.join(tftp, "boot.ipxe"),
                         base, "labdesk.shell=1")
        shutil.copy(os.path.join(assets, "ipxe", "undionly.kpxe"), tftp)
        lab = Lab(d, ["--enable-tftp", f"--tftp-root={tftp}", "--dhcp-match=set:ipxe,175",
                      "--dhcp-boot=tag:ipxe,boot.ipxe", "--dhcp-boot=tag:!ipxe,undionly.kpxe",
                      "--dhcp-option=tag:ipxe,encap:175,176,1b", "--enable-ra",
                      "--dhcp-range=fd77::,ra-only"])
        out = os.path.join(d, "announces.jsonl")
        # What the boot-server serves: the assets and lab-ca.cpio.gz, a second initrd that lays the
        # lab CA over the thin client's (both firmwares must hand it to the kernel).
        serve = os.path.join(d, "serve")
        os.makedirs(os.path.join(serve, "ca", "etc", "tc"))
        for f in ("vmlinuz", "thin-client", "ipxe"):
            os.symlink(os.path.join(os.path.abspath(assets), f), os.path.join(serve, f))
        open(os.path.join(serve, "ca", "etc", "tc", "lab-ca.pem"), "w").write(CA_MARKER)
        subprocess.run("find etc | cpio -o -H newc --quiet | gzip -9n > ../lab-ca.cpio.gz", shell=True, check=True,
                       cwd=os.path.join(serve, "ca"))
        lab.listener(out, serve_dir=serve)
        mac = "52:54:00:77:02:01" if firmware == "bios" else "52:54:00:77:02:02"
        args = ["-boot", "n", "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev=n0,mac={mac}"]
        if firmware == "uefi":
            vars_copy = os.path.join(d, "OVMF_VARS.fd")
            shutil.copy(OVMF_VARS, vars_copy)
            args += ["-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                     "-drive", f"if=pflash,format=raw,file={vars_copy}"]
        vm = VM(d, "pc", args, netns=lab.ns, mem_mib=512)
        deadline = time.monotonic() + 150
        while not (os.path.exists(out) and open(out).read().endswith("\n")):
            check(vm.proc.poll() is None, f"qemu exited; serial:\n{vm.text()[-1500:]}")
            check(lab.procs[0].poll() is None,
                  f"dnsmasq exited: {open(os.path.join(d, 'dnsmasq.log')).read()[-1500:]}")
            check(time.monotonic() < deadline, f"no announce within 150 s; serial:\n{vm.text()[-2000:]}\n"
                  f"dnsmasq:\n{open(os.path.join(d, 'dnsmasq.log')).read()[-1500:]}")
            time.sleep(0.1)
        wall = vm.elapsed()
        a = json.loads(json.loads(open(out).readline())["body"])
        check(a["mac"] == mac, f"announce mac {a['mac']!r}, the PC's is {mac}")
        cmdline = vm.sh("cat /proc/cmdline", timeout=10, attempts=4)[1]
        check("initrd=initrd.cpio.gz initrd=lab-ca.cpio.gz" in cmdline and f"labdesk.announce={base}/v1/announce" in cmdline,
              f"kernel command line from boot.ipxe: {cmdline!r}")
        ca = vm.sh("cat /etc/tc/lab-ca.pem", timeout=10, attempts=4)[1]
        check("labdesk pxe test CA" in ca, f"the lab CA from lab-ca.cpio.gz is not in the thin client: {ca!r}")
        w, h, rgb = vm.screendump(os.path.join(d, "screen.ppm"))
        check(len(set(rgb[i:i + 3] for i in range(0, len(rgb), 21))) >= 2, "the lab PC's screen is blank")
        log(f"{firmware}: power-on -> announce {wall:.1f} s wall (guest uptime {a['uptime_s']} s); "
            f"screen {w}x{h}")
        vm.stop()
        ok = True
        log(f"PASS pxe {firmware}")
    finally:
        if vm:
            vm.stop()
        if lab:
            lab.close()
        cleanup_dir(d, ok)


def main():
    need_root()
    assets, firmware = sys.argv[1], sys.argv[2]
    for f in ("vmlinuz", "thin-client/initrd.cpio.gz", "ipxe/boot.ipxe"):
        if not os.path.exists(os.path.join(assets, f)):
            sys.exit(f"missing {assets}/{f}: build the 'pxe-assets' target first")
    try:
        test(assets, firmware)
    except TestFailure as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
