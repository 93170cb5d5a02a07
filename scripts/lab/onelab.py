"""The whole lab on one machine, in network namespaces: used by scripts/demo and the end-to-end
test (tests/integration/e2e). Needs root.

    boot namespace (ns_boot)            host namespaces (ns_hosts, each its own mount namespace too)
    br-lab 10.77.0.1/24  <-- lab PCs    libvirtd + virtlogd + labdesk-agent, one set per host
    labdesk-boot-server (dnsmasq,       desktops' VNC on 10.78.0.2, .3, ...
      NAT, broker, admin API on lo)
    br-hosts 10.78.0.1/24 <-- veth ---> veth 10.78.0.2/24 (host-1), 10.78.0.3/24 (host-2), ...

With more than one host the users' data disks are on one folder every host's agent uses as its
data_dir (desktops.data = "shared"): it stands for a file server's export that each host mounts
(docs/data.md). Lab PCs are diskless QEMU (TCG) VMs with a tap on br-lab that PXE-boot from the
boot-server.
Everything started here is stopped by PID (and by the namespaces' PID lists) in close()."""
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import labvm  # noqa: E402  (the QEMU/QMP/serial half of this lab library, shared with the tests)

LAB_GW = "10.77.0.1"
HOST_GW = "10.78.0.1"
HOST_IP = "10.78.0.2"  # the first host


def host_ip(i):
    return f"10.78.0.{2 + i}"
API_PORT = 7080
AGENT_PORT = 7400


class LabError(Exception):
    pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(*cmd, check=True, **kw):
    return subprocess.run(list(cmd), check=check, **kw)


class OneLab:
    """tiers: list of MiB; capacity_mib: each host's desktop memory (one number for all, or one per
    host); mode: handoff|balloon."""

    def __init__(self, build, workdir, tag, tiers=(512, 256), capacity_mib=1024, mode="handoff",
                 grace_seconds=300, pc_cmdline="labdesk.shell=1", hosts=1, placement_by_memory_only=False,
                 desktop_cmdline="console=ttyS0", rebalance=False):
        self.build = os.path.abspath(build)
        self.assets = os.path.join(self.build, "pxe-assets")
        self.dir = workdir
        os.chmod(workdir, 0o755)  # dnsmasq (user nobody) reads its TFTP folder below it
        self.ns_boot = f"ld{tag}-boot"
        self.ns_hosts = [f"ld{tag}-host" + ("" if i == 0 else str(i + 1)) for i in range(hosts)]
        self.ns_host = self.ns_hosts[0]
        self.host_dirs = [os.path.join(workdir, "host" + ("" if i == 0 else str(i + 1))) for i in range(hosts)]
        # More than one host: one data area for all (it stands for an NFS export each host mounts).
        self.data_dir = os.path.join(workdir, "shared-data" if hosts > 1 else "host/data")
        self.tiers, self.mode = list(tiers), mode
        self.capacities = list(capacity_mib) if isinstance(capacity_mib, (list, tuple)) else [capacity_mib] * hosts
        if len(self.capacities) != hosts:
            raise LabError(f"capacity_mib {capacity_mib} names {len(self.capacities)} hosts, the lab has {hosts}")
        self.grace_seconds, self.pc_cmdline, self.desktop_cmdline = grace_seconds, pc_cmdline, desktop_cmdline
        # Memory only: placement a test can predict (host CPU load would break the ties).
        self.placement = ("\n[placement]\nmemory_weight = 1.0\ncpu_weight = 0.0\nnetwork_weight = 0.0\n"
                          if placement_by_memory_only else "")
        # The lab evening itself out moves desktops on its own: off unless asked for, so that the
        # tests' placements stay the planner's only choice.
        self.rebalance = rebalance
        self.procs = []
        self.pcs = {}
        self.admin_token = secrets.token_hex(16)
        self.agent_token = secrets.token_hex(16)
        for b in ("boot-server/labdesk-boot-server", "hypervisor-agent/labdesk-agent",
                  "boot-server/ctl/labdeskctl", "pxe-assets/thin-client/initrd.cpio.gz",
                  "pxe-assets/desktop/base.qcow2"):
            if not os.path.exists(os.path.join(self.build, b)):
                raise LabError(f"missing '{b}' in build folder '{self.build}': build it first "
                               f"(cmake --build {self.build})")

    # --- bring-up -------------------------------------------------------------------------------
    def start(self):
        try:
            self._network()
            self._lab_config()
            self._console_certificates()
            self._hosts()
            self._boot_server()
        except BaseException:
            self.close()
            raise
        return self

    def _network(self):
        for ns in [self.ns_boot] + self.ns_hosts:
            run("ip", "netns", "add", ns)
            run("ip", "-n", ns, "link", "set", "lo", "up")
        b = lambda *a: run("ip", "-n", self.ns_boot, *a)  # noqa: E731
        b("link", "add", "br-lab", "type", "bridge")
        b("addr", "add", f"{LAB_GW}/24", "dev", "br-lab")
        b("addr", "add", "fd77::1/64", "dev", "br-lab", "nodad")  # RAs: iPXE skips its IPv6 wait
        b("link", "set", "br-lab", "up")
        b("link", "add", "br-hosts", "type", "bridge")
        b("addr", "add", f"{HOST_GW}/24", "dev", "br-hosts")
        b("link", "set", "br-hosts", "up")
        for i, ns in enumerate(self.ns_hosts):
            b("link", "add", f"to-host{i + 1}", "type", "veth", "peer", "name", "to-boot", "netns", ns)
            b("link", "set", f"to-host{i + 1}", "master", "br-hosts", "up")
            run("ip", "-n", ns, "addr", "add", f"{host_ip(i)}/24", "dev", "to-boot")
            run("ip", "-n", ns, "link", "set", "to-boot", "up")
            # replies to lab PCs go back through the boot-server's NAT
            run("ip", "-n", ns, "route", "add", "default", "via", HOST_GW)

    def _write(self, name, text, mode=0o600):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def _hosts(self):
        token = self._write("agent.token", self.agent_token + "\n")
        for i in range(len(self.ns_hosts)):
            self._host(i, token)

    def _host(self, i, token):
        h = self.host_dirs[i]
        for d in ("overlays", "console"):
            os.makedirs(os.path.join(h, d), exist_ok=True)
        os.makedirs(self.data_dir, exist_ok=True)
        name = os.path.basename(h)
        conf = self._write(f"agent-{name}.toml", f"""[agent]
host = "host-{i + 1}"
listen = "{host_ip(i)}"
port = {AGENT_PORT}
token_file = "{token}"

[libvirt]
uri = "qemu:///system"

[storage]
images_dir = "{self.assets}"
overlay_dir = "{h}/overlays"
data_dir = "{self.data_dir}"
console_dir = "{h}/console"
data_disk_mib = 64

[desktops]
capacity_mib = {self.capacities[i]}
vnc_listen = "{host_ip(i)}"

{self._migration_section(i)}
[[images]]
name = "desktop"
base = "desktop/base.qcow2"
kernel = "vmlinuz"
initrd = "desktop/initrd.cpio.gz"
cmdline = "{self.desktop_cmdline}"
ready_line = "LABDESK: ready"
""", 0o644)
        agent = os.path.join(self.build, "hypervisor-agent", "labdesk-agent")
        sandbox = os.path.join(ROOT, "tests", "integration", "lib", "sandbox.sh")
        # libvirtd gets its own mount namespace (private /etc/libvirt, /run/libvirt...) inside the
        # host's network namespace; sandbox.sh starts libvirtd + virtlogd, then the agent.
        # With two hosts or more each libvirtd takes live migrations from the others over the hosts'
        # network (TCP without auth: the lab PCs cannot reach 10.78.0.0/24; production uses TLS,
        # docs/migration.md), under a host name and UUID of its own.
        migration = [f"SANDBOX_LIBVIRT_LISTEN={host_ip(i)}", f"SANDBOX_HOST_NAME=host-{i + 1}"] if len(self.ns_hosts) > 1 else []
        self._spawn(name, ["ip", "netns", "exec", self.ns_hosts[i], "env", f"SANDBOX_VNC_TLS_DIR={self.console_tls}",
                           *migration, "unshare", "--mount", "--uts", "--propagation", "private", sandbox, "inner", agent,
                           "-c", conf])
        self._wait(lambda: self._http(f"http://{host_ip(i)}:{AGENT_PORT}/v1/health", ns=self.ns_hosts[i]),
                   120, f"labdesk-agent on host-{i + 1} answering /v1/health", f"{name}.log")

    def _migration_section(self, i):
        if len(self.ns_hosts) < 2:
            return ""
        # The shared data folder is local here, which libvirt cannot prove is shared.
        return f"""[migration]
peer_uri = "qemu+tcp://{host_ip(i)}/system"
unproven_shared_storage = true
"""

    def _console_certificates(self):
        """The host's console certificate from the lab CA (what an admin copies to each host's
        /etc/pki/libvirt-vnc): the boot-server makes the CA in its state folder if need be."""
        self.console_tls = os.path.join(self.dir, "console-tls")
        server = os.path.join(self.build, "boot-server", "labdesk-boot-server")
        r = subprocess.run([server, "-c", self.config, "--issue-console-certificate", self.console_tls],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise LabError(f"labdesk-boot-server --issue-console-certificate: {r.stderr.strip()}")

    def _lab_config(self):
        token = self._write("admin.token", self.admin_token + "\n")
        agent_token = os.path.join(self.dir, "agent.token")
        state = os.path.join(self.dir, "state")
        os.makedirs(state, exist_ok=True)
        self.lab_ca = os.path.join(state, "tls", "ca.crt")  # made by the boot-server at first start
        hosts = "".join(f"""
[[hosts]]
name = "host-{i + 1}"
agent_url = "http://{host_ip(i)}:{AGENT_PORT}"
token_file = "{agent_token}"
capacity_mib = {self.capacities[i]}
""" for i in range(len(self.ns_hosts)))
        self.config = self._write("lab.toml", f"""# The one-machine lab (scripts/lab/onelab.py)
[tiers]
mib = {json.dumps(self.tiers)}
mode = "{self.mode}"
grace_seconds = {self.grace_seconds}
{self.placement}{hosts}
[lab]
interface = "br-lab"
address = "{LAB_GW}/24"
range_start = "10.77.0.100"
range_end = "10.77.0.150"
lease_seconds = 600

[boot]
assets_dir = "{self.assets}"
state_dir = "{state}"
cmdline = "{self.pc_cmdline}"

[api]
address = "127.0.0.1"
port = {API_PORT}
token_file = "{token}"

[desktops]
image = "desktop"
vnc_ready_seconds = 240
data = "{'shared' if len(self.ns_hosts) > 1 else 'per_host'}"

[rebalance]
enabled = {'true' if self.rebalance else 'false'}
""", 0o644)

    def _boot_server(self):
        server = os.path.join(self.build, "boot-server", "labdesk-boot-server")
        self.boot_proc = self._spawn("boot-server", ["ip", "netns", "exec", self.ns_boot, server,
                                                     "-c", self.config])
        self._wait(lambda: b'"healthy":true' in (self.admin("GET", "/v1/status", raw=True) or b""),
                   90, "labdesk-boot-server healthy", "boot-server.log")

    # --- processes and HTTP -------------------------------------------------------------------
    def _spawn(self, name, cmd):
        out = open(os.path.join(self.dir, f"{name}.log"), "ab")
        p = labvm.popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def _wait(self, ok, timeout, what, logname):
        deadline = time.monotonic() + timeout
        while not ok():
            if time.monotonic() > deadline:
                tail = open(os.path.join(self.dir, logname), errors="replace").read()[-2000:]
                raise LabError(f"no {what} within {timeout} s; {logname} ends:\n{tail}")
            time.sleep(0.2)

    def _http(self, url, ns, method="GET", body=None, headers=None, timeout=30, cacert=None):
        """curl inside a namespace; returns (status, body bytes) or None when unreachable."""
        cmd = ["ip", "netns", "exec", ns, "curl", "-s", "-m", str(timeout), "-X", method,
               "-o", "-", "-w", "\n%{http_code}", url]
        if cacert:
            cmd += ["--cacert", cacert]
        for k, v in (headers or {}).items():
            cmd += ["-H", f"{k}: {v}"]
        if body is not None:
            cmd += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
        r = subprocess.run(cmd, capture_output=True)
        if r.returncode != 0:
            return None
        data, _, code = r.stdout.rpartition(b"\n")
        return int(code), data

    def admin(self, method, path, body=None, raw=False, want=None, timeout=30):
        r = self._http(f"http://127.0.0.1:{API_PORT}{path}", self.ns_boot, method, body,
                       {"Authorization": f"Bearer {self.admin_token}"}, timeout=timeout)
        if raw:
            return r[1] if r else None
        if r is None:
            raise LabError(f"admin API {method} {path}: boot-server unreachable")
        if want is not None and r[0] != want:
            raise LabError(f"admin API {method} {path}: HTTP {r[0]} {r[1][:300]!r}")
        return json.loads(r[1]) if r[1] else None

    def client(self, method, path, body=None, token=None, timeout=30):
        """The lab-facing client API, as a lab PC sees it: HTTPS, checked against the lab CA."""
        h = {"Authorization": f"Bearer {token}"} if token else {}
        r = self._http(f"https://{LAB_GW}:8443{path}", self.ns_boot, method, body, h,
                       timeout=timeout, cacert=self.lab_ca)
        if r is None:
            raise LabError(f"client API {method} {path}: boot-server unreachable")
        return r[0], (json.loads(r[1]) if r[1] else None)

    def ctl(self, *args):
        """labdeskctl against the admin API; returns its stdout."""
        r = subprocess.run(["ip", "netns", "exec", self.ns_boot,
                            os.path.join(self.build, "boot-server", "ctl", "labdeskctl"),
                            "--server", f"http://127.0.0.1:{API_PORT}",
                            "--token-file", os.path.join(self.dir, "admin.token")] + list(args),
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise LabError(f"labdeskctl {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def add_user(self, name, password):
        self.admin("POST", "/v1/admin/users", {"name": name, "password": password, "admin": False},
                   want=201)

    def virsh(self, *args, host=0):
        """virsh on a host, inside that host's libvirt sandbox (joins its mount namespace)."""
        pid = self._libvirtd_pid(self.ns_hosts[host])
        r = subprocess.run(["nsenter", "-t", str(pid), "-m", "-n", "virsh", "-c", "qemu:///system"]
                           + list(args), capture_output=True, text=True)
        return r.stdout

    def _libvirtd_pid(self, ns):
        out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
        for pid in out.stdout.split():
            try:
                if open(f"/proc/{pid}/comm").read().strip() == "libvirtd":
                    return int(pid)
            except OSError:
                pass
        raise LabError(f"no libvirtd in the host namespace '{ns}'")

    def kill_host(self, i):
        """A host dies: every process in its network namespace (agent, libvirtd, the desktops'
        QEMU) is SIGKILLed at once; a pulled plug for its desktops."""
        out = subprocess.run(["ip", "netns", "pids", self.ns_hosts[i]], capture_output=True, text=True)
        for pid in out.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass

    def reset_console(self, host, vnc_host, vnc_port):
        """Resets a desktop's console connections from its host (ss -K: the kernel aborts QEMU's
        end of each and sends the viewer a TCP reset, as a flaky network would): the viewer loses
        the connection at once and reconnects to the same running desktop."""
        r = subprocess.run(["ip", "netns", "exec", self.ns_hosts[host], "ss", "-K", "-t", "state", "established",
                            "src", f"{vnc_host}:{vnc_port}"], capture_output=True, text=True)
        if r.returncode != 0 or f"{vnc_host}:{vnc_port}" not in r.stdout:
            raise LabError(f"no console connection to {vnc_host}:{vnc_port} on host-{host + 1} to reset: "
                           f"{r.stdout}{r.stderr}")

    def nft(self):
        return subprocess.run(["ip", "netns", "exec", self.ns_boot, "nft", "list", "ruleset"],
                              capture_output=True, text=True).stdout

    # --- lab PCs ------------------------------------------------------------------------------
    def boot_pc(self, name, mac, mem_mib=768, extra=()):
        """Powers on a diskless lab PC that PXE-boots (BIOS, virtio NIC) from the boot-server."""
        tap = f"tap-{name}"[:15]
        run("ip", "-n", self.ns_boot, "tuntap", "add", "dev", tap, "mode", "tap")
        run("ip", "-n", self.ns_boot, "link", "set", tap, "master", "br-lab", "up")
        vm = labvm.VM(self.dir, name, ["-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
                                       "-device", f"virtio-net-pci,netdev=n0,mac={mac}",
                                       "-boot", "n"] + list(extra), netns=self.ns_boot, mem_mib=mem_mib)
        vm.tap, vm.mac = tap, mac
        self.pcs[name] = vm
        return vm

    def link(self, pc, up):
        """Plugs a lab PC's cable in or out (its tap on the lab bridge)."""
        run("ip", "-n", self.ns_boot, "link", "set", self.pcs[pc].tap, "up" if up else "down")

    # --- teardown -----------------------------------------------------------------------------
    def close(self):
        for vm in self.pcs.values():
            try:
                vm.stop()
            except Exception as e:  # keep tearing down
                log(f"stopping {vm.name}: {e}")
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        # What is left in our namespaces was started by us (desktops' QEMU, libvirtd, virtlogd,
        # dnsmasq): stop it by PID, QEMU first with SIGTERM so it exits cleanly.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for ns in self.ns_hosts + [self.ns_boot]:
                out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
                for pid in out.stdout.split():
                    try:
                        os.kill(int(pid), sig)
                    except ProcessLookupError:
                        pass
            time.sleep(1 if sig == signal.SIGTERM else 0)
        for ns in [self.ns_boot] + self.ns_hosts:
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


# --- what a lab PC's screen shows (QEMU screendump, from outside the PC) ---------------------------
LOGIN_BG = (24, 38, 58)    # the viewer's login screen background (thin-client/src/ui.cpp)


def classify(width, height, rgb):
    """'login' (the viewer's login screen), 'desktop' (a desktop whose top row is the test
    desktop's white-on-blue banner, drawn by the viewer), 'black', or 'other'."""
    n = width * height
    # Counting the colour's bytes is C-fast (a frame watch classifies many frames a second); in
    # a large uniform area nearly every pixel starts a match.
    if rgb.count(bytes(LOGIN_BG)) > 0.5 * n:
        return "login"
    if not any(rgb[::97]):
        return "black"
    for y in range(0, height // 2):
        row = rgb[3 * width * y:3 * width * (y + 1)]
        blue = sum(1 for x in range(0, width, 4)
                   if row[3 * x + 2] > 120 and row[3 * x] < 60 and row[3 * x + 1] < 60)
        if blue * 4 > 0.4 * width:
            return "desktop"
    return "other"


def screen(vm):
    w, h, rgb = vm.screendump(os.path.join(vm.dir, f"{vm.name}.ppm"))
    return classify(w, h, rgb)


class FrameWatch:
    """A lab PC's screen sampled as fast as QMP screendumps go, noting each new picture and what it
    shows. With an animated test desktop (labdesk.anim=1) a desktop's picture changes several
    times a second, so the longest time between two new desktop pictures is what the user saw
    frozen or dark: around a switch, from the last frame of one desktop to the first frame of
    the next."""

    def __init__(self, vm):
        self.vm, self.path = vm, os.path.join(vm.dir, f"{vm.name}.watch.ppm")
        self.changes = []  # (monotonic time, kind) of each new picture
        self.samples, self._last = 0, None

    def sample(self):
        w, h, rgb = self.vm.screendump(self.path)
        t = time.monotonic()
        self.samples += 1
        digest = hashlib.blake2b(rgb, digest_size=16).digest()
        if digest != self._last:
            self._last = digest
            self.changes.append((t, classify(w, h, rgb)))
        return self.changes[-1][1]

    def run(self, seconds=None, until=None, timeout=300):
        """Samples for `seconds`, or until `until()` is true (checked about every 0.5 s)."""
        t0 = last_check = time.monotonic()
        while True:
            self.sample()
            now = time.monotonic()
            if seconds is not None and now - t0 >= seconds:
                return
            if until is not None and now - last_check >= 0.5:
                last_check = now
                if until():
                    return
            if now - t0 > timeout:
                raise LabError(f"{self.vm.name}: watched its screen {timeout} s, the awaited state never came")

    def save(self, path):
        """The pictures seen, for a look afterwards: one line per new picture (seconds, kind)."""
        t0 = self.changes[0][0] if self.changes else 0
        with open(path, "a") as f:
            f.write(f"# {self.vm.name}: {self.samples} screendumps\n")
            f.writelines(f"{t - t0:.3f} {kind}\n" for t, kind in self.changes)

    def longest_freeze(self, start, end):
        """The longest time in [start, end] without a new desktop picture (seconds)."""
        times = [start] + [t for t, kind in self.changes if start < t < end and kind == "desktop"] + [end]
        return max(b - a for a, b in zip(times, times[1:]))

    def frame_period(self, start, end):
        """The median time between new desktop pictures in [start, end]: the watch's resolution."""
        times = [t for t, kind in self.changes if start <= t <= end and kind == "desktop"]
        gaps = sorted(b - a for a, b in zip(times, times[1:]))
        return gaps[len(gaps) // 2] if gaps else float("nan")


def wait_screen(vm, kind, timeout):
    """Waits until the PC's screen shows `kind`; returns the seconds it took."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        if vm.proc.poll() is not None:
            raise LabError(f"{vm.name}: QEMU exited; serial tail:\n{vm.text()[-1500:]}")
        last = screen(vm)
        if last == kind:
            return time.monotonic() - t0
        time.sleep(0.5)
    raise LabError(f"{vm.name}: screen shows '{last}', not '{kind}', after {timeout} s; "
                   f"serial tail:\n{vm.text()[-1500:]}")


def type_login(vm, user, password):
    """What a student does at the login screen: user name, Enter, password, Enter."""
    vm.type_text(user + "\n")
    time.sleep(0.3)
    vm.type_text(password + "\n")


def save_png(vm, path):
    """The PC's screen as a PNG (ImageMagick converts QEMU's PPM)."""
    ppm = os.path.join(vm.dir, f"{vm.name}.shot.ppm")
    vm.screendump(ppm)
    run("convert", ppm, path)
    return path
