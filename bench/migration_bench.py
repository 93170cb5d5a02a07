#!/usr/bin/env python3
"""labdesk's live migration vs `virsh migrate --live` of the same desktop, in the same run, on the
same two hosts (the one-machine lab: each host its own libvirtd in its own namespaces, TCG).

Each round moves one running desktop four times: labdesk A->B and B->A (the admin API's live move:
planner check, the destination's prepared overlay, libvirt's peer-to-peer migration, the
destination's fresh console password, the session and forward switched), then virsh A->B and
B->A, done as an admin would do it by hand with the same result: the destination's empty overlay
made with qemu-img, the migratable XML rewritten for the destination's paths, then
`virsh migrate --live --p2p --copy-storage-inc --migrate-disks vda --unsafe --xml`.
Reported per move: the wall time of the whole operation and the guest's pause (libvirt's downtime
of the completed incoming job), and the ratios labdesk / virsh (medians).

usage (root): bench/migration_bench.py BUILD_DIR [ROUNDS=3]"""
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts", "lab"))
import onelab  # noqa: E402
from onelab import LabError, host_ip  # noqa: E402


def session_of(lab, user):
    for s in lab.admin("GET", "/v1/admin/sessions", want=200):
        if s["user"] == user:
            return s
    return None


def labdesk_move(lab, session, to):
    t0 = time.monotonic()
    r = lab.admin("POST", f"/v1/admin/sessions/{session}/move", {"host": f"host-{to + 1}", "live": True},
                  want=200, timeout=300)
    return time.monotonic() - t0, r["downtime_ms"] / 1000


def virsh_move(lab, desktop, src, dst):
    """By hand: what labdesk automates, with virsh and qemu-img."""
    t0 = time.monotonic()
    base = os.path.join(lab.assets, "desktop", "base.qcow2")
    paths = [(os.path.join(lab.host_dirs[src], d), os.path.join(lab.host_dirs[dst], d)) for d in ("overlays", "console")]
    overlay = os.path.join(lab.host_dirs[dst], "overlays", f"{desktop}.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", overlay], check=True)
    xml = lab.virsh("dumpxml", "--migratable", "--security-info", desktop, host=src)
    for a, b in paths:
        xml = xml.replace(a + "/", b + "/")
    xml = xml.replace(f"'{host_ip(src)}'", f"'{host_ip(dst)}'")
    dest_xml = os.path.join(lab.dir, f"virsh-{desktop}-{dst}.xml")
    with open(dest_xml, "w") as f:
        f.write(xml)
    out = lab.virsh("migrate", "--live", "--p2p", "--copy-storage-inc", "--migrate-disks", "vda", "--unsafe",
                    "--xml", dest_xml, "--migrateuri", f"tcp://{host_ip(dst)}", desktop,
                    f"qemu+tcp://{host_ip(dst)}/system", host=src)
    wall = time.monotonic() - t0
    if desktop not in lab.virsh("list", "--name", host=dst).split():
        raise LabError(f"virsh migrate of {desktop} to host-{dst + 1} failed: {out}")
    job = lab.virsh("domjobinfo", "--completed", desktop, host=dst)
    m = re.search(r"Total downtime:\s+(\d+)\s+ms", job)
    if not m:
        print(f"  (no downtime from virsh domjobinfo --completed: {job.strip()[:200]!r})", flush=True)
    return wall, (int(m.group(1)) / 1000 if m else float("nan"))


def main(build, rounds):
    work = tempfile.mkdtemp(prefix="labdesk-migbench.")
    lab = onelab.OneLab(build, work, f"m{os.getpid() % 10000}", tiers=(256,), capacity_mib=1024, hosts=2,
                        desktop_cmdline="console=ttyS0 labdesk.tick=1")
    times = {"labdesk": [], "virsh": []}
    downs = {"labdesk": [], "virsh": []}
    try:
        lab.start()
        lab.add_user("alice", "alice-pw")
        status, body = lab.client("POST", "/v1/login", {"user": "alice", "password": "alice-pw", "client_id": "bench"},
                                  timeout=300)
        if status != 200:
            raise LabError(f"login: HTTP {status} {body}")
        s = session_of(lab, "alice")
        desktop, a = s["desktop"], int(s["host"].rsplit("-", 1)[1]) - 1
        b = 1 - a
        for r in range(rounds):
            for src, dst in ((a, b), (b, a)):
                t, d = labdesk_move(lab, s["id"], dst)
                times["labdesk"].append(t)
                downs["labdesk"].append(d)
                print(f"round {r + 1}: labdesk host-{src + 1} -> host-{dst + 1}: {t:.2f} s, downtime {d:.3f} s", flush=True)
            for src, dst in ((a, b), (b, a)):
                t, d = virsh_move(lab, desktop, src, dst)
                times["virsh"].append(t)
                downs["virsh"].append(d)
                print(f"round {r + 1}: virsh   host-{src + 1} -> host-{dst + 1}: {t:.2f} s, downtime {d:.3f} s", flush=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        dmed = {k: statistics.median(v) for k, v in downs.items()}
        print(f"\nMEASURE {rounds} rounds, {len(times['labdesk'])} moves each (256 MiB TCG desktop, overlay copied, data shared):")
        print(f"  total:    labdesk median {med['labdesk']:.2f} s (range {min(times['labdesk']):.2f}-{max(times['labdesk']):.2f}), "
              f"virsh median {med['virsh']:.2f} s (range {min(times['virsh']):.2f}-{max(times['virsh']):.2f}): "
              f"ratio {med['labdesk'] / med['virsh']:.2f}x (goal <= 1.2x)")
        print(f"  downtime: labdesk median {dmed['labdesk']:.3f} s, virsh median {dmed['virsh']:.3f} s: "
              f"ratio {dmed['labdesk'] / dmed['virsh']:.2f}x (goal: freeze <= 1 s)")
        return 0
    finally:
        lab.close()
        if not os.environ.get("KEEP"):
            subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3))
