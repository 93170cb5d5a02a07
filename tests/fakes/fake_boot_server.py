#!/usr/bin/env python3
"""fake_boot_server.py ADDR PORT HOST VNCPORT VNCPW: the boot-server's client API v1 (as in
common/include/labdesk/common/api/client.hpp) with one user ana/secret, for the viewer's
integration tests. Test controls: POST /test/move {"host","port","vnc_password"} queues a
'moved' event; POST /test/end {"reason"}; GET /test/state shows what the viewer asked
(login_clients: the client_id of each good login)."""
import json, sys, threading
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlparse, parse_qs

addr, port, host, vport, vpw = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
lock = threading.Condition()
state = {"endpoint": {"host": host, "port": vport}, "vnc_password": vpw, "events": [],
         "logins": 0, "login_clients": [], "acks": [], "credential_calls": 0, "event_polls": 0, "logouts": 0, "bad_logins": 0}
SESSION, TOKEN = "s-1", "tok-1"


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("fake-boot-server: " + (fmt % a) + "\n")

    def reply(self, code, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, code, err, msg, **extra):
        self.reply(code, {"error": dict({"code": err, "message": msg}, **extra)})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"{}")

    def authed(self):
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            self.error(401, "bad_token", "token expired or wrong: log in again")
            return False
        return True

    def do_POST(self):
        path = urlparse(self.path).path
        b = self.body()
        with lock:
            if path == "/v1/login":
                if b.get("user") == "busy":
                    return self.error(503, "no_capacity", "no desktop free", queue_position=2)
                if (b.get("user"), b.get("password")) != ("ana", "secret"):
                    state["bad_logins"] += 1
                    return self.error(401, "bad_credentials", "wrong user or password")
                state["logins"] += 1
                state["login_clients"].append(b.get("client_id"))
                return self.reply(200, {"session": SESSION, "token": TOKEN, "endpoint": state["endpoint"],
                                        "vnc_password": state["vnc_password"], "tier_mib": 512})
            if path == "/v1/sessions/%s/credential" % SESSION:
                if not self.authed():
                    return
                state["credential_calls"] += 1
                return self.reply(200, {"endpoint": state["endpoint"], "vnc_password": state["vnc_password"]})
            if path == "/v1/sessions/%s/logout" % SESSION:
                state["logouts"] += 1
                return self.reply(204)
            if path == "/v1/sessions/%s/ack" % SESSION:
                if not self.authed():
                    return
                state["acks"].append(b.get("blackout_ms"))
                return self.reply(200, {"ok": True})
            if path == "/test/move":
                state["endpoint"] = {"host": b["host"], "port": b["port"]}
                state["vnc_password"] = b["vnc_password"]
                state["events"].append({"seq": len(state["events"]) + 1, "type": "moved",
                                        "endpoint": state["endpoint"], "vnc_password": b["vnc_password"]})
                lock.notify_all()
                return self.reply(200, {})
            if path == "/test/end":
                state["events"].append({"seq": len(state["events"]) + 1, "type": "ended", "reason": b.get("reason", "")})
                lock.notify_all()
                return self.reply(200, {})
        self.error(404, "not_found", "no such path '%s'" % path)

    def do_GET(self):
        u = urlparse(self.path)
        if u.path == "/test/state":
            with lock:
                return self.reply(200, state)
        if u.path == "/v1/sessions/%s/events" % SESSION:
            if not self.authed():
                return
            after = int(parse_qs(u.query).get("after", ["0"])[0])
            with lock:
                state["event_polls"] += 1
                lock.wait_for(lambda: any(e["seq"] > after for e in state["events"]), timeout=20)
                return self.reply(200, {"events": [e for e in state["events"] if e["seq"] > after]})
        self.error(404, "not_found", "no such path '%s'" % u.path)


ThreadingHTTPServer.daemon_threads = True
srv = ThreadingHTTPServer((addr, port), H)
print("fake-boot-server on %s:%d" % (addr, port), flush=True)
srv.serve_forever()
