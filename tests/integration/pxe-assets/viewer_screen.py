"""Screens for the thin-client viewer test: what the viewer's login screen looks like (its
colours, from thin-client/src/ui.cpp), and a reference picture of it drawn by the same viewer
binary under Xvfb, to compare the lab PC's own screen (QMP screendump) against."""
import os
import subprocess
import time

from labvm import TestFailure, check, log, popen, stop_process

LOGIN_BG = (24, 38, 58)       # Ui::draw_login's background
BOX = (255, 255, 255)         # the user name and password fields, 360x36 each


def _mask(channel, value):
    """An int with byte 1 where the channel byte equals value, 0 elsewhere (fast, no numpy)."""
    table = bytes(1 if v == value else 0 for v in range(256))
    return int.from_bytes(channel.translate(table), "big")


def count(rgb, colour):
    """How many pixels of the packed RGB bytes have this colour."""
    m = _mask(rgb[0::3], colour[0]) & _mask(rgb[1::3], colour[1]) & _mask(rgb[2::3], colour[2])
    return m.to_bytes(len(rgb) // 3, "big").count(1)


def is_login_screen(w, h, rgb):
    """The login screen: mostly its background, with both white fields (and text on it)."""
    n = w * h
    bg = count(rgb, LOGIN_BG)
    return 0.6 * n < bg < 0.99 * n and count(rgb, BOX) >= 2 * 360 * 36 * 0.9


def same_fraction(a, b):
    """Fraction of pixels equal in two RGB pictures of the same size."""
    check(len(a) == len(b), f"pictures differ in size ({len(a)} / {len(b)} bytes)")
    n = len(a) // 3
    x = (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")
    same = _mask(x[0::3], 0) & _mask(x[1::3], 0) & _mask(x[2::3], 0)
    return same.to_bytes(n, "big").count(1) / n


def read_ppm(path):
    data = open(path, "rb").read()
    parts = data.split(b"\n", 3)
    check(parts[0] == b"P6" and parts[2] == b"255", f"{path} is not an 8-bit binary PPM")
    w, h = map(int, parts[1].split())
    return w, h, parts[3][:w * h * 3]


def reference(d, viewer, netns, server, client_id, w, h, timeout=60):
    """The login screen as the viewer draws it in a WxH Xvfb (software renderer, like the lab
    PC), talking to the same boot-server from the lab's namespace. Returns the RGB bytes."""
    n = next(n for n in range(150 + os.getpid() % 50, 400)
             if not os.path.exists(f"/tmp/.X{n}-lock") and not os.path.exists(f"/tmp/.X11-unix/X{n}"))
    disp = f":{n}"
    xvfb = popen(["Xvfb", disp, "-nolisten", "tcp", "-screen", "0", f"{w}x{h}x24"],
                 stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "xvfb.log"), "wb"))
    vw = None
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(f"/tmp/.X11-unix/X{n}"):
            check(xvfb.poll() is None, "Xvfb did not start: " + open(os.path.join(d, "xvfb.log")).read())
            check(time.monotonic() < deadline, f"Xvfb {disp} not listening after 30 s")
            time.sleep(0.1)
        env = dict(os.environ, DISPLAY=disp, SDL_VIDEODRIVER="x11")
        # the X socket is a file: it reaches into the namespace (abstract sockets do not)
        vw = popen(["ip", "netns", "exec", netns, viewer, "--server", server, "--client-id", client_id],
                   env=env, stdout=open(os.path.join(d, "ref-viewer.log"), "wb"), stderr=subprocess.STDOUT)
        shot = os.path.join(d, "reference.ppm")
        deadline = time.monotonic() + timeout
        while True:
            check(vw.poll() is None, "reference viewer exited: " + open(os.path.join(d, "ref-viewer.log")).read())
            subprocess.run(["import", "-display", disp, "-window", "root", "-depth", "8", "ppm:" + shot],
                           stderr=subprocess.DEVNULL)
            if os.path.exists(shot):
                rw, rh, rgb = read_ppm(shot)
                if (rw, rh) == (w, h) and is_login_screen(w, h, rgb):
                    log(f"reference login screen from Xvfb {disp} at {w}x{h}")
                    return rgb
            if time.monotonic() > deadline:
                raise TestFailure(f"no login screen in the Xvfb reference within {timeout} s")
            time.sleep(0.5)
    finally:
        for p in (vw, xvfb):
            if p:
                stop_process(p)
