"""The one-machine lab demo (run by scripts/demo, as root): a boot-server, a virtualization host
with libvirtd and labdesk-agent, and a lab subnet, all in network namespaces; a diskless QEMU lab
PC PXE-boots, the demo user logs in at its login screen, and the desktop appears. Screenshots of
the lab PC's screen and of the dashboard are written; the dashboard, the lab PC's screen (VNC)
and the admin API are reachable on 127.0.0.1 until Ctrl-C tears everything down.

usage: demo.py BUILD_DIR [--out DIR] [--no-wait]"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import onelab  # noqa: E402
from onelab import LabError, log, save_png, type_login, wait_screen  # noqa: E402

DASHBOARD_PORT = int(os.environ.get("LABDESK_DEMO_PORT", "7080"))
PC_VNC_PORT = int(os.environ.get("LABDESK_DEMO_VNC_PORT", "5977"))
USER, PASSWORD = "demo", "demo-pass"


def loopback_forward(lab, port, target):
    """socat on 127.0.0.1:port of this machine to `target` (a socat address) - loopback only."""
    return lab._spawn(f"socat-{port}", ["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork", target])


def dashboard_png(lab, path):
    """Headless Chromium inside the boot-server's namespace takes the dashboard."""
    subprocess.run(["ip", "netns", "exec", lab.ns_boot, "chromium", "--headless", "--no-sandbox",
                    "--disable-gpu", "--hide-scrollbars", "--window-size=1280,900",
                    "--virtual-time-budget=4000", f"--screenshot={path}",
                    f"http://127.0.0.1:{onelab.API_PORT}/#token={lab.admin_token}"], capture_output=True, timeout=120)
    return path if os.path.exists(path) else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--out", default=None, help="where the screenshots go (default BUILD/demo-out)")
    ap.add_argument("--no-wait", action="store_true", help="tear down after the desktop shows")
    ap.add_argument("--hosts", type=int, default=2,
                    help="virtualization hosts, each its own libvirtd and agent (default 2, the paper's S = 2)")
    a = ap.parse_args()
    out = os.path.abspath(a.out or os.path.join(a.build, "demo-out"))
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="labdesk-demo.")
    stop = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))

    if not 1 <= a.hosts <= 8:
        raise SystemExit(f"--hosts {a.hosts}: use 1 to 8")
    lab = onelab.OneLab(a.build, work, "demo", tiers=(1024, 512, 256), capacity_mib=2048, hosts=a.hosts, rebalance=True)
    try:
        t0 = time.monotonic()
        log(f"starting the lab: boot-server, {a.hosts} virtualization host(s) (libvirtd + labdesk-agent each), lab network")
        lab.start()
        lab.add_user(USER, PASSWORD)
        loopback_forward(lab, DASHBOARD_PORT,
                         f"EXEC:ip netns exec {lab.ns_boot} socat STDIO TCP\\:127.0.0.1\\:{onelab.API_PORT}")
        log(f"lab up in {time.monotonic() - t0:.0f} s; powering on a diskless lab PC (PXE, TCG)")
        vnc_sock = os.path.join(work, "pc1.vnc.sock")
        pc = lab.boot_pc("pc1", "52:54:00:77:00:21", extra=["-vnc", f"unix:{vnc_sock}"])
        loopback_forward(lab, PC_VNC_PORT, f"UNIX-CONNECT:{vnc_sock}")
        took = wait_screen(pc, "login", 300)
        log(f"the lab PC shows the login screen {took:.0f} s after power-on")
        save_png(pc, os.path.join(out, "lab-pc-login.png"))
        log(f"logging in as '{USER}'")
        t1 = time.monotonic()
        type_login(pc, USER, PASSWORD)
        wait_screen(pc, "desktop", 240)
        log(f"desktop shown {time.monotonic() - t1:.0f} s after the login")
        time.sleep(3)  # let the banner's first redraw settle
        shots = [save_png(pc, os.path.join(out, "lab-pc-desktop.png")),
                 dashboard_png(lab, os.path.join(out, "dashboard.png"))]
        print(f"""
  labdesk demo is running.
    screenshots:       {'  '.join(s for s in shots if s)}
    dashboard:         http://127.0.0.1:{DASHBOARD_PORT}/#token={lab.admin_token}
    admin token:       {lab.admin_token}
    admin CLI:         {lab.build}/boot-server/ctl/labdeskctl --server http://127.0.0.1:{DASHBOARD_PORT} --token {lab.admin_token} sessions
    the lab PC live:   xtigervncviewer 127.0.0.1::{PC_VNC_PORT}   (user '{USER}', password '{PASSWORD}')
  Ctrl-C stops and removes everything.
""", flush=True)
        while not a.no_wait and not stop:
            time.sleep(0.5)
        return 0
    except LabError as e:
        print(f"demo failed: {e}\n(logs kept in {work})", file=sys.stderr)
        work = None
        return 1
    finally:
        log("tearing down the lab")
        lab.close()
        if work:
            subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
