#!/usr/bin/env python3
"""A tiny HTTP listener standing in for the boot-server's announce endpoint: every POST is
appended to OUTFILE as one JSON line {"path","content_type","body"}; the reply is 200 JSON.
With SERVE_DIR, GET serves the files below it (the boot files of a PXE boot).
  announce_listener.py ADDRESS PORT OUTFILE [SERVE_DIR]"""
import json
import functools
import sys
from http.server import HTTPServer, SimpleHTTPRequestHandler


class Handler(SimpleHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8", "replace")
        with open(sys.argv[3], "a") as f:
            f.write(json.dumps({"path": self.path, "content_type": self.headers.get("Content-Type"),
                                "body": body}) + "\n")
        reply = b'{"ok":true}\n'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, fmt, *args):
        sys.stderr.write("listener: " + fmt % args + "\n")


serve = sys.argv[4] if len(sys.argv) > 4 else "/nonexistent"
HTTPServer((sys.argv[1], int(sys.argv[2])), functools.partial(Handler, directory=serve)).serve_forever()
