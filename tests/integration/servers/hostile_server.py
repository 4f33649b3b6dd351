#!/usr/bin/env python3
"""Misbehaving HTTP server for the integration tests (loopback only).

Each path is one case, in the spirit of curl's test servers:
  /<case>            a declarative case, tests/data/hostile/<case>.json (see the README there):
                     what the server replies; the test that runs it reads what the agent must do
  /digest/<name>     Digest (MD5, qop=auth) protected; user joe, password s3cret
  /every10th/<name>  every 10th request (counted over all such paths) answers 500
  /control/heal      from now on /every10th/ never fails
  /ok/<name>         200 with a small body
  /cut/<size>/<name> a file of <size> bytes (a fixed pattern, strong ETag) that honours Range with
                     If-Range, but every response ends after 40% of the file: cut twice, a client
                     that resumes has it on its third request (logged with the bytes sent)
Every request is logged as "<path> <status> <authorization>" to --log.
"""
import argparse
import hashlib
import json
import http.server
import os
import re
import threading
import time

REALM = "provisioning"
USER, PASSWORD = "joe", "s3cret"
NONCE = "dcd98b7102dd2f0e8b11d0f600bfb0c093"
lock = threading.Lock()
counter = {"every10th": 0, "healed": False}


def md5(s):
    return hashlib.md5(s.encode()).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def record(self, status, extra=""):
        with lock, open(self.server.log_path, "a") as f:
            f.write("%s %d %s%s\n" % (self.path, status, self.headers.get("Authorization", "-"), extra))

    def send_body(self, status, body, extra=None):
        self.record(status)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def digest_ok(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Digest "):
            return False
        fields = dict(re.findall(r'(\w+)="?([^",]+)"?', auth[7:]))
        if fields.get("username") != USER or fields.get("realm") != REALM:
            return False
        ha1 = md5("%s:%s:%s" % (USER, REALM, PASSWORD))
        ha2 = md5("GET:%s" % fields.get("uri", ""))
        expected = md5("%s:%s:%s:%s:%s:%s" % (ha1, fields.get("nonce"), fields.get("nc"), fields.get("cnonce"),
                                               fields.get("qop"), ha2))
        return fields.get("response") == expected and fields.get("nonce") == NONCE

    def do_GET(self):
        p = self.path
        if p.startswith("/digest/"):
            if self.digest_ok():
                return self.send_body(200, b"digest-ok\n")
            return self.send_body(401, b"unauthorized\n", {
                "WWW-Authenticate": 'Digest realm="%s", qop="auth", nonce="%s", algorithm=MD5' % (REALM, NONCE)})
        case = self.server.cases.get(p.split("?")[0].lstrip("/"))
        if case is not None:
            return self.serve_case(case)
        if p == "/control/heal":
            with lock:
                counter["healed"] = True
            return self.send_body(200, b"healed\n")
        if p.startswith("/every10th/"):
            with lock:
                counter["every10th"] += 1
                n = counter["every10th"]
                healed = counter["healed"]
            if n % 10 == 0 and not healed:
                return self.send_body(500, b"failing on purpose\n")
            return self.send_body(200, ("# content of %s\n" % p).encode())
        if p.startswith("/cut/"):
            return self.cut(p)
        if p.startswith("/ok/"):
            return self.send_body(200, ("# content of %s\n" % p).encode())
        return self.send_body(404, b"not found\n")


    def serve_case(self, case):
        reply = case["reply"]
        status = reply.get("status", 200)
        self.record(status)
        self.send_response(status)
        for k, v in reply.get("headers", {}).items():
            self.send_header(k, v)
        self.end_headers()
        chunked = reply.get("chunked", False)
        pace = reply.get("pace_s", 0)
        try:
            self.wfile.flush()
            if reply.get("stall_s"):
                time.sleep(reply["stall_s"])
            for piece in reply.get("body", []):
                data = piece["text"].encode() if "text" in piece else \
                    piece["byte"].encode() * piece["count"]
                if chunked:
                    data = b"%x\r\n" % len(data) + data + b"\r\n"
                for _ in range(piece.get("repeat", 1)):
                    if pace:
                        for i in range(len(data)):
                            self.wfile.write(data[i:i + 1])
                            self.wfile.flush()
                            time.sleep(pace)
                    else:
                        self.wfile.write(data)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    def cut(self, p):
        parts = p.split("/")
        size = int(parts[2])
        etag = '"cut-%d"' % size
        if self.headers.get("If-None-Match") == etag and not self.headers.get("Range"):
            return self.send_body(304, b"", {"ETag": etag})
        start = 0
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes=") and rng.endswith("-") and self.headers.get("If-Range") == etag:
            start = int(rng[6:-1])
        if start >= size:
            return self.send_body(416, b"", {"Content-Range": "bytes */%d" % size})
        status = 206 if start > 0 else 200
        self.send_response(status)
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(size - start))
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, size - 1, size))
        self.end_headers()
        end = min(size, start + (size * 4 + 9) // 10)
        pattern = bytes(range(256)) * 256
        sent = 0
        try:
            pos = start
            while pos < end:
                n = min(end - pos, len(pattern) - pos % len(pattern))
                self.wfile.write(pattern[pos % len(pattern):pos % len(pattern) + n])
                pos += n
                sent += n
            self.wfile.flush()
        except OSError:
            pass
        self.record(status, " sent=%d" % sent)
        self.close_connection = True

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a fleet connects many at once
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--cases", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                    "..", "..", "data", "hostile"))
    args = ap.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.log_path = args.log
    srv.cases = {}
    for name in os.listdir(args.cases):
        if name.endswith(".json"):
            with open(os.path.join(args.cases, name)) as f:
                srv.cases[name[:-5]] = json.load(f)
    open(args.log, "a").close()
    srv.serve_forever()


if __name__ == "__main__":
    main()
