"""End to end on two hosts (issue #16): the one-machine lab with two virtualization hosts, each
its own libvirtd and agent, on one data area. A diskless lab PC PXE-boots; alice logs in and writes
a file on /data by typing through the viewer. An admin moves her desktop to the other host: her
screen follows and the new desktop reads the file. Then that host dies (every process in its
namespace SIGKILLed): the boot-server marks it down, her viewer follows to a desktop on the
surviving host with no action, and that desktop reads the file too. She logs out: no desktop,
overlay or forward is left. Checked from outside: the PC's screen (QEMU screendump), the data disk
on the shared folder (debugfs), the admin API and nftables.

usage: two_hosts_test.py BUILD_DIR      (root; KEEP=1 keeps the work folder)"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab_e2e_test as e2e  # noqa: E402
from lab_e2e_test import check, data_file, finish, forward_to, onelab, pc_ip, poll, session_of  # noqa: E402
from onelab import log, wait_screen  # noqa: E402

PC_MAC = "52:54:00:77:0e:11"
TIMES = {}


def sees_file(lab, pc, marker, name):
    """The desktop on the PC's screen copies alice's note; the copy on the data disk proves that
    this desktop has her data area mounted."""
    pc.type_text(f"cp /data/note.txt /data/{name}; sync\n")
    poll(f"the copy '{name}' on alice's data disk", lambda: marker in data_file(lab, "alice", f"/{name}"), 90, 2)


def host_index(s):
    return int(s["host"].rsplit("-", 1)[1]) - 1  # "host-2" -> 1


def main(build):
    d = tempfile.mkdtemp(prefix="labdesk-e2e2.")
    lab = onelab.OneLab(build, d, f"f{os.getpid() % 10000}", tiers=(512,), capacity_mib=768, hosts=2)
    ok = False
    try:
        lab.start()
        lab.add_user("alice", "alice-pw")
        pc = lab.boot_pc("pc1", PC_MAC)
        wait_screen(pc, "login", 300)
        ip = pc_ip(lab, PC_MAC)
        a, TIMES["login to desktop"] = e2e.login_at(lab, pc, "alice", "alice-pw", 512)
        marker = f"two-hosts-{os.getpid()}"
        pc.type_text(f"echo {marker} >/data/note.txt; sync\n")
        poll("alice's file on her data disk", lambda: marker in data_file(lab, "alice", "/note.txt"), 60, 2)

        first = host_index(a)
        other = 1 - first
        log(f"an admin moves alice from host-{first + 1} to host-{other + 1}")
        t0 = time.monotonic()
        lab.admin("POST", f"/v1/admin/sessions/{a['id']}/move", {"host": f"host-{other + 1}"}, want=200,
                  timeout=240)  # answers once the new desktop is drawn
        moved = poll("alice on the other host", lambda: (s := session_of(lab, "alice")) and host_index(s) == other and s, 240)
        check(moved["id"] == a["id"], "the move kept alice's session")
        wait_screen(pc, "desktop", 120)
        sees_file(lab, pc, marker, "after-move.txt")
        TIMES["admin move across hosts: until the new desktop has her files"] = time.monotonic() - t0

        log(f"host-{other + 1} dies with alice's desktop on it")
        t0 = time.monotonic()
        lab.kill_host(other)
        poll("the dead host marked down",
             lambda: any(h["name"] == f"host-{other + 1}" and h["state"] == "down"
                         for h in lab.admin("GET", "/v1/admin/hosts", want=200)), 30, 0.2)
        TIMES["host death: marked down"] = time.monotonic() - t0
        back = poll("alice on the surviving host", lambda: (s := session_of(lab, "alice")) and host_index(s) == first and s, 240)
        check(back["id"] == a["id"], "the host's death kept alice's session")
        wait_screen(pc, "desktop", 120)
        TIMES["host death: her screen shows a desktop again"] = time.monotonic() - t0
        sees_file(lab, pc, marker, "after-death.txt")
        check(forward_to(lab, ip) is not None, "nft: alice's PC has no forward after the failover")

        log("alice logs out")
        pc.qmp_cmd("send-key", keys=[{"type": "qcode", "data": k} for k in ("ctrl", "alt", "shift", "q")])
        wait_screen(pc, "login", 60)
        poll("alice's session ended", lambda: session_of(lab, "alice") is None, 60)
        poll("no desktop left", lambda: not lab.virsh("list", "--name", host=first).split(), 60)
        overlays = os.path.join(lab.host_dirs[first], "overlays")
        poll("no overlay left", lambda: all(f.startswith(".spare-") for f in os.listdir(overlays)), 30)
        check(forward_to(lab, ip) is None, "nft: a forward is left after the logout")
        check(marker in data_file(lab, "alice", "/note.txt"), "alice's file is gone from her data disk")
        ok = True
        log("all steps passed")
    finally:
        finish(lab, d, ok, TIMES)
    return 0 if ok else 1


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("two_hosts_test.py needs root (network namespaces, libvirtd, nftables)")
    sys.exit(main(sys.argv[1]))
