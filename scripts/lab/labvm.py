"""The one lab library's VM half, used by the one-machine lab (onelab.py, scripts/demo) and the
integration tests: a QEMU (TCG) VM with its serial console on a unix socket (read into a buffer,
logged to a file), QMP, and a root shell on ttyS0.

Everything started here is stopped by PID in stop()/close(); nothing is killed by name."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import sys
import time


GW = "10.77.0.1"


class TestFailure(Exception):
    pass


def _die_with_parent():
    # If the test itself is killed (ctest timeout), the kernel stops its QEMU/dnsmasq/listener.
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG


def popen(cmd, **kw):
    """subprocess.Popen for the processes a test starts: they die with the test."""
    return subprocess.Popen(cmd, preexec_fn=_die_with_parent, **kw)


def stop_process(p, timeout=5):
    """Stops a process we started, by its PID: SIGTERM, then SIGKILL after `timeout` s."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _sigterm(signum, frame):
    raise SystemExit(f"terminated by signal {signum}")   # runs the tests' finally: cleanups


signal.signal(signal.SIGTERM, _sigterm)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# US keyboard: character -> QEMU qcodes (shift first where needed)
_PLAIN = {" ": "spc", "\n": "ret", "\t": "tab", "-": "minus", "=": "equal", "[": "bracket_left",
          "]": "bracket_right", ";": "semicolon", "'": "apostrophe", "`": "grave_accent",
          "\\": "backslash", ",": "comma", ".": "dot", "/": "slash"}
_SHIFTED = {"_": "minus", "+": "equal", "{": "bracket_left", "}": "bracket_right", ":": "semicolon",
            '"': "apostrophe", "~": "grave_accent", "|": "backslash", "<": "comma", ">": "dot",
            "?": "slash", "!": "1", "@": "2", "#": "3", "$": "4", "%": "5", "^": "6", "&": "7",
            "*": "8", "(": "9", ")": "0"}


class VM:
    """One QEMU process. args: extra QEMU arguments (disks, NICs, kernel...)."""

    def __init__(self, workdir, name, args, netns=None, mem_mib=512):
        self.dir = workdir
        self.name = name
        self.serial_path = os.path.join(workdir, f"{name}.serial.sock")
        self.qmp_path = os.path.join(workdir, f"{name}.qmp.sock")
        self.log_path = os.path.join(workdir, f"{name}.serial.log")
        cmd = ["qemu-system-x86_64", "-accel", "tcg", "-m", str(mem_mib), "-smp", "1",
               "-display", "none", "-vga", "std", "-no-reboot", "-monitor", "none",
               "-chardev", f"socket,id=ser0,path={self.serial_path},server=on,wait=on",
               "-serial", "chardev:ser0",
               "-qmp", f"unix:{self.qmp_path},server=on,wait=off"] + args
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.buf = b""
        self.lock = threading.Lock()
        self.logf = open(self.log_path, "wb")
        self.t0 = time.monotonic()
        # wait=on: QEMU does not start the guest until we are connected, so no output is lost.
        self.proc = popen(cmd, stdin=subprocess.DEVNULL,
                          stdout=open(os.path.join(workdir, f"{name}.qemu.log"), "wb"),
                          stderr=subprocess.STDOUT)
        self.sock = self._connect(self.serial_path)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.qmp = None
        self.seq = 0

    def _connect(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise TestFailure(f"qemu exited early with {self.proc.returncode}: "
                                  + open(os.path.join(self.dir, f"{self.name}.qemu.log")).read())
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(path)
                return s
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise TestFailure(f"no socket {path} after {timeout} s")
                time.sleep(0.05)

    def _read(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            with self.lock:
                self.buf += data
            self.logf.write(data)
            self.logf.flush()

    def text(self):
        with self.lock:
            return self.buf.decode("utf-8", "replace")

    def elapsed(self):
        return time.monotonic() - self.t0

    def wait_for(self, pattern, timeout, start=0):
        """Waits for regex pattern in the serial output (from offset start); returns the match."""
        rx = re.compile(pattern, re.S)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.text(), start)
            if m:
                return m
            if self.proc.poll() is not None:
                raise TestFailure(f"{self.name}: qemu exited ({self.proc.returncode}) before "
                                  f"/{pattern}/; serial tail:\n{self.text()[-1500:]}")
            if time.monotonic() > deadline:
                raise TestFailure(f"{self.name}: no /{pattern}/ on serial within {timeout} s; "
                                  f"serial tail:\n{self.text()[-1500:]}")
            time.sleep(0.05)

    def send(self, s):
        self.sock.sendall(s.encode())

    def sh(self, cmd, timeout=30, attempts=1):
        """Runs cmd in the guest's ttyS0 root shell; returns (rc, output). The markers are made
        by shell arithmetic so the echo of the typed line never matches them."""
        for _ in range(attempts):
            self.seq += 1
            a, b = 100000 + self.seq, 200000 + self.seq
            start = len(self.text())
            self.send(f"{{ {cmd}\n}} >/tmp/.o 2>&1; r=$?; echo \"<<$(({a}))>>$r\"; cat /tmp/.o; "
                      f"echo \"<<$(({b}))>>\"\n")
            try:
                m = self.wait_for(rf"<<{a}>>(\d+)\r?\n(.*?)<<{b}>>", timeout, start)
                out = m.group(2).replace("\r\n", "\n")
                return int(m.group(1)), out
            except TestFailure:
                if _ == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def qmp_cmd(self, execute, **arguments):
        if self.qmp is None:
            s = self._connect(self.qmp_path)
            self.qmp = s.makefile("rw")
            self.qmp.readline()
            self._qmp_send("qmp_capabilities")
        return self._qmp_send(execute, **arguments)

    def _qmp_send(self, execute, **arguments):
        msg = {"execute": execute}
        if arguments:
            msg["arguments"] = arguments
        self.qmp.write(json.dumps(msg) + "\n")
        self.qmp.flush()
        while True:
            reply = json.loads(self.qmp.readline())
            if "event" in reply:
                continue
            if "error" in reply:
                raise TestFailure(f"QMP {execute}: {reply['error']}")
            return reply.get("return")

    def type_text(self, text):
        """Types text on the VM's US keyboard (what a VNC client sends), via QMP send-key."""
        for ch in text:
            if ch in _PLAIN:
                keys = [_PLAIN[ch]]
            elif ch in _SHIFTED:
                keys = ["shift", _SHIFTED[ch]]
            elif ch.isupper():
                keys = ["shift", ch.lower()]
            elif ch.isalnum():
                keys = [ch]
            else:
                raise TestFailure(f"cannot type {ch!r} on the VM's keyboard")
            self.qmp_cmd("send-key", keys=[{"type": "qcode", "data": k} for k in keys])
            time.sleep(0.02)

    def screendump(self, path):
        """The VGA screen as (width, height, rgb bytes), via QMP screendump (PPM)."""
        if os.path.exists(path):
            os.unlink(path)
        self.qmp_cmd("screendump", filename=path)
        data = open(path, "rb").read()
        # P6\n<w> <h>\n<max>\n<rgb...>
        parts = data.split(b"\n", 3)
        check(parts[0] == b"P6", f"screendump {path} is not a PPM")
        w, h = map(int, parts[1].split())
        return w, h, parts[3]

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure(f"{self.name}: qemu still running {timeout} s later; serial tail:\n"
                              f"{self.text()[-1500:]}")

    def stop(self):
        """Stops QEMU by its PID (SIGTERM, then SIGKILL) and waits for it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            self.sock.close()
        except OSError:
            pass
        self.reader.join(2)
        self.logf.close()


def need_root():
    if os.geteuid() != 0:
        raise SystemExit("this test needs root (network namespaces, taps); run it under sudo")


def workdir(name):
    d = tempfile.mkdtemp(prefix=f"labdesk-{name}.")
    return d


def cleanup_dir(d, ok):
    if ok and not os.environ.get("KEEP"):
        shutil.rmtree(d, ignore_errors=True)
    else:
        log(f"kept {d} for inspection")
