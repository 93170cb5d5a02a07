"""The pxe-assets tests' small lab: one network namespace with a bridge, a tap for the VM and a
plain dnsmasq, plus the announce listener (a stand-in boot-server). The VM side is labvm (one lab
library in scripts/lab, shared with onelab.py)."""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "scripts", "lab"))
from labvm import GW, check, popen, stop_process  # noqa: E402


class Lab:
    """A network namespace with br0 (10.77.0.1/24), tap0 on it, dnsmasq serving DHCP."""

    def __init__(self, d, dnsmasq_extra=()):
        self.d = d
        self.ns = f"ldpxa-{os.getpid()}"
        self.procs = []
        subprocess.run(["ip", "netns", "add", self.ns], check=True)
        try:
            self._setup(d, dnsmasq_extra)
        except BaseException:
            self.close()
            raise

    def _setup(self, d, dnsmasq_extra):
        sh = lambda *a: subprocess.run(["ip", "-n", self.ns] + list(a), check=True)  # noqa: E731
        sh("link", "set", "lo", "up")
        sh("link", "add", "br0", "type", "bridge")
        sh("addr", "add", f"{GW}/24", "dev", "br0")
        sh("addr", "add", "fd77::1/64", "dev", "br0", "nodad")  # for RAs: iPXE waits for IPv6 otherwise
        sh("link", "set", "br0", "up")
        sh("tuntap", "add", "dev", "tap0", "mode", "tap")
        sh("link", "set", "tap0", "master", "br0", "up")
        self.leases = os.path.join(d, "leases")
        self.start("dnsmasq", ["dnsmasq", "--keep-in-foreground", "--log-facility=-", "--port=0",
                               "--no-ping", "--interface=br0", "--bind-interfaces",
                               "--dhcp-range=10.77.0.100,10.77.0.200,255.255.255.0,1h",
                               f"--dhcp-leasefile={self.leases}", "--pid-file=",
                               f"--dhcp-option=option:router,{GW}"] + list(dnsmasq_extra))

    def start(self, name, cmd):
        p = popen(["ip", "netns", "exec", self.ns] + cmd, stdin=subprocess.DEVNULL,
                  stdout=open(os.path.join(self.d, f"{name}.log"), "wb"), stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def listener(self, out, serve_dir=None):
        """The announce listener on GW:8080 (and a static file server for serve_dir)."""
        p = self.start("listener", [sys.executable, os.path.join(HERE, "announce_listener.py"),
                                    GW, "8080", out] + ([serve_dir] if serve_dir else []))
        deadline = time.monotonic() + 15
        while subprocess.run(["ip", "netns", "exec", self.ns, "bash", "-c",
                              f"exec 3<>/dev/tcp/{GW}/8080"], stderr=subprocess.DEVNULL).returncode != 0:
            check(p.poll() is None, "announce listener exited: "
                  + open(os.path.join(self.d, "listener.log")).read())
            check(time.monotonic() < deadline, "announce listener not listening after 15 s")
            time.sleep(0.1)
        return p

    def close(self):
        for p in reversed(self.procs):
            stop_process(p)
        # anything left in our namespace was started by this test: stop it by PID
        r = subprocess.run(["ip", "netns", "pids", self.ns], capture_output=True, text=True)
        for pid in r.stdout.split():
            try:
                os.kill(int(pid), 9)
            except ProcessLookupError:
                pass
        subprocess.run(["ip", "netns", "del", self.ns])
