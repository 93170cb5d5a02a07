"""End to end on two hosts (issue #16): the one-machine lab with two virtualization hosts, each
its own libvirtd and agent, on one data area (a shared folder standing for the file server's
export). A diskless lab PC PXE-boots; alice logs in there and writes a file on /data by typing
through the viewer. Then her desktop is replaced in every way the lab replaces one, and each time
the desktop on her PC's screen reads the file (it copies it on /data, and the copy is read back
from her data disk on the shared folder):
  1. a cross-host handoff: bob and carol log in (through the client API, no PC), the tiers shrink
     and the planner hands her over to host-2 (bob's shrink is a same-host handoff beside it);
  2. a re-login placed on the other host than the one she wrote the file on;
  3. a same-host handoff: bob logs in again and she shrinks on host-2;
  4. an admin move back to host-1, then live migrations to host-2 and back while she types a
     line across each switch (it reaches her disk whole);
  5. host-1 dies (every process in its namespace SIGKILLed): host-2 takes her over.
She logs out: no desktop, overlay, data lease or forward is left. The hosts' sizes (640 and 1024 MiB, tiers
512/384, placement by memory only) make every placement above the only one the planner can choose
(`labdesk-plan simulate` prints the same steps). The desktops are animated (labdesk.anim=1): the PC's
screen is watched through a plain reconnect (the console connection reset) and both handoffs, and
the longest time its picture froze in each is printed side by side.

usage: two_hosts_test.py BUILD_DIR      (root; KEEP=1 keeps the work folder)"""
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab_e2e_test as e2e  # noqa: E402
from lab_e2e_test import check, data_file, finish, forward_to, onelab, pc_ip, poll, session_of  # noqa: E402
from onelab import LabError, log, type_login, wait_screen  # noqa: E402

PC_MAC = "52:54:00:77:0e:11"
TIMES = {}
LOGOUT_KEYS = [{"type": "qcode", "data": k} for k in ("ctrl", "alt", "shift", "q")]


def sees_file(lab, pc, marker, name):
    """The desktop on the PC's screen copies alice's note; the copy on the data disk proves that
    this desktop has her data area mounted, and the store's lease names that desktop."""
    # Her files may still be on their way (plugged in a few seconds after the switch): the copy
    # is typed again every 10 s until it is there.
    t0 = time.monotonic()
    while True:
        pc.type_text(f"cp /data/note.txt /data/{name}; sync\n")
        try:
            poll(f"the copy '{name}' on alice's data disk", lambda: marker in data_file(lab, "alice", f"/{name}"), 10, 2)
            break
        except LabError:
            if time.monotonic() - t0 > 90:
                raise
    s = session_of(lab, "alice")
    mine = [x for x in lab.admin("GET", "/v1/admin/data-leases", want=200) if x["disk"] == "alice"]
    check(mine == [{"disk": "alice", "host": s["host"], "desktop": s["desktop"]}],
          f"the store's data lease of alice is not her desktop's ({s['host']}, {s['desktop']}): {mine}")


def host_index(s):
    return int(s["host"].rsplit("-", 1)[1]) - 1  # "host-2" -> 1


class ApiUser:
    """A user logged in through the client API (no lab PC): fills a host so the tiers move."""

    def __init__(self, lab, name):
        self.lab, self.name, self.session = lab, name, None
        lab.add_user(name, f"{name}-pw")

    def login(self):
        status, body = self.lab.client("POST", "/v1/login", {"user": self.name, "password": f"{self.name}-pw",
                                                              "client_id": f"api-{self.name}"}, timeout=300)
        if status != 200:
            raise LabError(f"{self.name}'s login: HTTP {status} {body}")
        self.session = body
        return body

    def logout(self):
        status, body = self.lab.client("POST", f"/v1/sessions/{self.session['session']}/logout",
                                       token=self.session["token"], timeout=120)
        if status != 204:
            raise LabError(f"{self.name}'s logout: HTTP {status} {body}")
        poll(f"{self.name}'s session ended", lambda: session_of(self.lab, self.name) is None, 60)


def alice_at(lab, host, mib, what, timeout=300):
    """Waits until alice's session is on `host` at `mib` and her PC's screen shows a desktop."""
    s = poll(f"alice on host-{host + 1} at {mib} MiB ({what})",
             lambda: (x := session_of(lab, "alice")) and host_index(x) == host and x["mib"] == mib and x, timeout)
    return s


def watch_handoff(lab, pc, start, old_desktop, key, switched_when=None, typing=""):
    """Runs `start` (a login that hands alice over) while PC 1's screen is watched; records the
    longest time her animated picture froze around the switch. `switched_when(session)`: when the
    switch counts as done (default: her desktop changed). `typing`: keys typed on the PC, one
    every 0.1 s, from the start until after the switch."""
    switched_when = switched_when or (lambda s: s["desktop"] != old_desktop)
    failed = []

    def run():
        try:
            start()
        except Exception as e:  # raised again below, in the test's thread
            failed.append(e)

    th = threading.Thread(target=run)
    th.start()
    watch = onelab.FrameWatch(pc)
    switched, asked, t0, typed = None, 0.0, time.monotonic(), 0
    while switched is None or time.monotonic() - switched < 3:
        watch.sample()
        now = time.monotonic()
        if typed < len(typing) and now - t0 > typed * 0.1:
            pc.type_text(typing[typed])
            typed += 1
        if switched is None and now - asked > 0.5:
            asked = now
            s = session_of(lab, "alice")
            switched = now if s and switched_when(s) else None
        if now - t0 > 300 or (failed and switched is None):
            break
    end = time.monotonic()  # the watch ends here; the login may go on (its old desktop's stop)
    pc.type_text(typing[typed:])
    th.join()
    if failed:
        raise failed[0]
    check(switched, "alice was never switched to a new desktop")
    TIMES[key] = watch.longest_freeze(switched - 5, end)
    watch.save(os.path.join(lab.dir, "frames.txt"))
    with open(os.path.join(lab.dir, "frames.txt"), "a") as f:
        f.write(f"# {key}: switched at {switched - watch.changes[0][0]:.3f}\n")


def handed_over(lab, pc, marker, a, newcomer, kind):
    """`newcomer` logs in, which hands alice over to a 384 MiB desktop on host-2 (`kind`: from
    host-1, or on host-2 itself) while her screen is watched; her new desktop reads her file."""
    t0 = time.monotonic()
    watch_handoff(lab, pc, newcomer.login, a["desktop"], f"{kind} handoff: longest frozen picture")
    s = alice_at(lab, 1, 384, f"{kind} handoff")
    check(s["id"] == a["id"] and s["desktop"] != a["desktop"], f"alice was not handed over: {s}")
    wait_screen(pc, "desktop", 120)
    sees_file(lab, pc, marker, f"after-{kind}-handoff.txt")
    TIMES[f"{kind} handoff: {newcomer.name}'s login until alice's new desktop has her files"] = time.monotonic() - t0


def live_move(lab, pc, marker, a, to):
    """An admin moves alice's running desktop live to host `to` (index) while her screen is
    watched and a line is typed on her PC across the switch: the same desktop runs on (no
    handoff), no key is lost or doubled, her files are there."""
    s0 = session_of(lab, "alice")
    answer = {}

    def start():
        answer.update(lab.admin("POST", f"/v1/admin/sessions/{a['id']}/move", {"host": f"host-{to + 1}", "live": True},
                                want=200, timeout=240))

    word = f"live{to}" + "abcdefghijklmnopqrstuvwxyz0123456789" * 2
    line = f"echo {word} >/data/typed-{to}.txt; sync\n"
    watch_handoff(lab, pc, start, s0["desktop"], f"live migration to host-{to + 1}: longest frozen picture",
                  switched_when=lambda s: host_index(s) == to, typing=line)
    s = session_of(lab, "alice")
    check(host_index(s) == to and s["desktop"] == s0["desktop"], f"alice's desktop did not move live: {s}")
    TIMES[f"live migration to host-{to + 1}: the API's total"] = answer["total_ms"] / 1000
    TIMES[f"live migration to host-{to + 1}: libvirt's downtime"] = answer["downtime_ms"] / 1000
    poll(f"the line typed across the move (host-{to + 1}) on her data disk",
         lambda: data_file(lab, "alice", f"/typed-{to}.txt").strip() == word, 30, 2)
    sees_file(lab, pc, marker, f"after-live-move-{to}.txt")


def main(build):
    d = tempfile.mkdtemp(prefix="labdesk-e2e2.")
    lab = onelab.OneLab(build, d, f"f{os.getpid() % 10000}", tiers=(512, 384), capacity_mib=(640, 1024), hosts=2,
                        grace_seconds=1800, placement_by_memory_only=True,
                        desktop_cmdline="console=ttyS0 labdesk.anim=1")
    ok = False
    try:
        lab.start()
        lab.add_user("alice", "alice-pw")
        bob, carol = ApiUser(lab, "bob"), ApiUser(lab, "carol")
        pc = lab.boot_pc("pc1", PC_MAC)
        wait_screen(pc, "login", 300)
        ip = pc_ip(lab, PC_MAC)
        a, TIMES["login to desktop"] = e2e.login_at(lab, pc, "alice", "alice-pw", 512)
        check(host_index(a) == 0, f"alice was placed on {a['host']}, expected host-1 (the planner's only choice)")
        marker = f"two-hosts-{os.getpid()}"
        pc.type_text(f"echo {marker} >/data/note.txt; sync\n")
        poll("alice's file on her data disk", lambda: marker in data_file(lab, "alice", "/note.txt"), 60, 2)

        reconnect = e2e.plain_reconnect(lab, pc, ip, a, TIMES)

        log("bob and carol log in: alice is handed over from host-1 to host-2")
        bob.login()
        handed_over(lab, pc, marker, a, carol, "cross-host")

        log("bob logs out; alice logs out and in again: placed on host-2, not host-1 where she wrote the file")
        bob.logout()
        pc.qmp_cmd("send-key", keys=LOGOUT_KEYS)
        wait_screen(pc, "login", 60)
        poll("alice's session ended", lambda: session_of(lab, "alice") is None, 60)
        # Her old desktop shuts down cleanly first (a few seconds): until then it keeps its memory
        # and her disk's lease, and a login would be placed around it (and get her files late).
        poll("alice's old desktop gone (its data lease released)",
             lambda: not [x for x in lab.admin("GET", "/v1/admin/data-leases", want=200) if x["disk"] == "alice"], 60)
        a, TIMES["re-login on the other host: login to desktop"] = e2e.login_at(lab, pc, "alice", "alice-pw", 512)
        check(host_index(a) == 1, f"alice's re-login was placed on {a['host']}, expected host-2")
        sees_file(lab, pc, marker, "after-relogin.txt")

        log("bob logs in again: alice shrinks by a handoff on host-2")
        handed_over(lab, pc, marker, a, bob, "same-host")

        log("carol logs out; an admin moves alice back to host-1")
        carol.logout()
        t0 = time.monotonic()
        lab.admin("POST", f"/v1/admin/sessions/{a['id']}/move", {"host": "host-1"}, want=200,
                  timeout=240)  # answers once the new desktop is drawn
        s = alice_at(lab, 0, 384, "admin move")
        check(s["id"] == a["id"], "the move kept alice's session")
        wait_screen(pc, "desktop", 120)
        sees_file(lab, pc, marker, "after-move.txt")
        TIMES["admin move across hosts: until the new desktop has her files"] = time.monotonic() - t0

        log("an admin moves alice's desktop live to host-2 and back, while she types")
        live_move(lab, pc, marker, s, 1)
        live_move(lab, pc, marker, s, 0)

        log("host-1 dies with alice's desktop on it")
        t0 = time.monotonic()
        lab.kill_host(0)
        poll("the dead host marked down",
             lambda: any(h["name"] == "host-1" and h["state"] == "down"
                         for h in lab.admin("GET", "/v1/admin/hosts", want=200)), 30, 0.2)
        TIMES["host death: marked down"] = time.monotonic() - t0
        back = alice_at(lab, 1, 384, "failover", 240)
        check(back["id"] == a["id"], "the host's death kept alice's session")
        wait_screen(pc, "desktop", 120)
        TIMES["host death: her screen shows a desktop again"] = time.monotonic() - t0
        sees_file(lab, pc, marker, "after-host-death.txt")
        check(forward_to(lab, ip) is not None, "nft: alice's PC has no forward after the failover")

        log("alice and bob log out")
        pc.qmp_cmd("send-key", keys=LOGOUT_KEYS)
        wait_screen(pc, "login", 60)
        poll("alice's session ended", lambda: session_of(lab, "alice") is None, 60)
        bob.logout()
        poll("no desktop left", lambda: not lab.virsh("list", "--name", host=1).split(), 60)
        overlays = os.path.join(lab.host_dirs[1], "overlays")
        poll("no overlay left", lambda: all(f.startswith(".spare-") for f in os.listdir(overlays)), 30)
        check(forward_to(lab, ip) is None, "nft: a forward is left after the logout")
        leases = lab.admin("GET", "/v1/admin/data-leases", want=200)
        check(leases == [], f"data leases left after every logout: {leases}")
        check(marker in data_file(lab, "alice", "/note.txt"), "alice's file is gone from her data disk")
        for kind in ("cross-host", "same-host"):
            TIMES[f"{kind} handoff vs plain reconnect: frozen picture, ratio"] = (
                TIMES[f"{kind} handoff: longest frozen picture"] / reconnect)
        for to in (1, 0):
            TIMES[f"live migration to host-{to + 1} vs plain reconnect: frozen picture, ratio"] = (
                TIMES[f"live migration to host-{to + 1}: longest frozen picture"] / reconnect)
        ok = True
        log("all steps passed")
    finally:
        finish(lab, d, ok, TIMES)
    return 0 if ok else 1


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("two_hosts_test.py needs root (network namespaces, libvirtd, nftables)")
    sys.exit(main(sys.argv[1]))
