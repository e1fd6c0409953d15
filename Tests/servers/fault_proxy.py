"""A loopback reverse proxy that breaks requests on purpose, in front of moto or the SigV4 proxy.

Each request is matched against the rules in force; a matching rule either lets it through or
does one of these to it:
  error        answers with an AWS error without forwarding: `status` and `code` (S3's XML, or
               the JSON services' shape when the request names an X-Amz-Target or is signed for
               another service than s3), e.g. 500 InternalError or 503 SlowDown
  reset        closes the connection with a TCP reset before forwarding (the request never arrives)
  reset-after  forwards, then resets the connection instead of passing the answer on (the request
               took effect, the client never hears so)
  slow         forwards, and passes the answer on after `delayMs` milliseconds
  hold         keeps the request until POST /__fault/release (or `holdSeconds`, default 120), then
               resets the connection without forwarding: for tests that act while a request of
               theirs is known to be in flight (kill the client "during the report write")

Rules (POST /__fault/rules, which replaces the rules in force):
  {"seed": 7, "maxConsecutive": 2,
   "rules": [{"method": "PUT", "path": "^/bucket/out/", "action": "error", "status": 500,
              "code": "InternalError", "rate": 0.05, "times": 3}, ...]}
  method, path (a regular expression searched in the decoded path, without the query) and query
  (one searched in the decoded query) are optional filters; `rate` (default 1) is the share of matching requests the rule takes, drawn
  from one seeded generator with one draw per request: the rates of the rules that match a
  request add up, so rules of 5%, 5% and 5% break 15% of the requests they all match; `times`
  (default: no limit) ends the rule after that many uses. `maxConsecutive` (default: no limit)
  lets a request through after that many faults in a row on the same method and path, so that a
  client retrying as often as it is configured to always gets through whatever the order of its
  requests.

Also:
  GET  /__fault/stats    {"requests", "forwarded", "faults": {action: n}, "holding", "held",
                          "puts": {path: PUTs seen}, "written": {path: PUTs answered 2xx upstream},
                          "matched": [per rule: requests it took]}
  POST /__fault/release  ends every hold
  POST /__fault/reset    zeroes the stats (rules stay)

Logs one line per broken request on stderr (method, path, action), never headers or bodies.

Usage: python3 -u fault_proxy.py --host 127.0.0.1 --port 0 --upstream http://127.0.0.1:PORT [--parent-pid PID]
"""
import collections
import json
import random
import re
import socket
import struct
import sys
import threading
import time
import uuid
from urllib.parse import unquote
from xml.sax.saxutils import escape

from _common import base_parser, serve
from sigv4_proxy import ProxyHandler, Server, loopback_upstream

ACTIONS = ("error", "reset", "reset-after", "slow", "hold")


class Rule:
    def __init__(self, spec):
        self.method = spec.get("method")
        self.path = re.compile(spec["path"]) if spec.get("path") else None
        self.query = re.compile(spec["query"]) if spec.get("query") else None
        self.action = spec.get("action")
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {self.action!r}")
        self.status = int(spec.get("status", 500))
        self.code = str(spec.get("code", "InternalError"))
        self.message = str(spec.get("message", "injected by fault_proxy"))
        self.delay = float(spec.get("delayMs", 0)) / 1000
        self.hold_seconds = float(spec.get("holdSeconds", 120))
        self.rate = float(spec.get("rate", 1))
        if not 0 <= self.rate <= 1:
            raise ValueError("rate is a share between 0 and 1")
        self.times = spec.get("times")
        self.used = 0

    def matches(self, method, path, query):
        if self.method and self.method != method:
            return False
        if self.path and not self.path.search(path):
            return False
        if self.query and not self.query.search(query):
            return False
        return self.times is None or self.used < int(self.times)


class Faults:
    """The rules, the seeded draws and the counters, behind one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.release_event = threading.Event()
        self.configure({})
        self.reset()

    def configure(self, spec):
        rules = [Rule(r) for r in spec.get("rules") or []]
        with self.lock:
            self.rules = rules
            self.random = random.Random(int(spec.get("seed", 1)))
            self.max_consecutive = spec.get("maxConsecutive")
            self.consecutive = collections.Counter()
            self.release_event = threading.Event()

    def reset(self):
        with self.lock:
            self.requests = self.forwarded = self.holding = self.held = 0
            self.faults = collections.Counter()
            self.puts = collections.Counter()
            self.written = collections.Counter()

    def choose(self, method, path, query):
        """The rule to apply to this request, or None to let it through."""
        with self.lock:
            self.requests += 1
            if method == "PUT":
                self.puts[path] += 1
            key = (method, path)
            draw = self.random.random()
            if self.max_consecutive is not None and self.consecutive[key] >= int(self.max_consecutive):
                self.consecutive[key] = 0
                return None
            total = 0.0
            for rule in self.rules:
                if not rule.matches(method, path, query):
                    continue
                total += rule.rate
                if draw < total:
                    rule.used += 1
                    self.faults[rule.action] += 1
                    if rule.action != "slow":
                        self.consecutive[key] += 1
                    return rule
            self.consecutive[key] = 0
            return None

    def record_forwarded(self, method, path, status):
        with self.lock:
            self.forwarded += 1
            if method == "PUT" and 200 <= status < 300:
                self.written[path] += 1

    def snapshot(self):
        with self.lock:
            return {"requests": self.requests, "forwarded": self.forwarded, "faults": dict(self.faults),
                    "holding": self.holding, "held": self.held, "puts": dict(self.puts),
                    "written": dict(self.written), "matched": [rule.used for rule in self.rules]}


class FaultHandler(ProxyHandler):
    server_version = "fault-proxy"
    faults = None  # set by main()

    def log_line(self, text):
        sys.stderr.write(f"fault-proxy: {self.command} {self.path.partition('?')[0]} {text}\n")

    def handle_request(self, body, dechunked):
        if self.path.startswith("/__fault/"):
            return self.handle_control(body)
        path, _, query = self.path.partition("?")
        path = unquote(path)
        rule = self.faults.choose(self.command, path, unquote(query))
        if rule is None:
            return self.pass_on(body, dechunked, path)
        self.log_line(f"-> {rule.action}" + (f" {rule.status} {rule.code}" if rule.action == "error" else ""))
        if rule.action == "error":
            self.send_reply(*self.error_reply(rule))
        elif rule.action == "reset":
            self.reset_connection()
        elif rule.action == "hold":
            with self.faults.lock:
                self.faults.holding += 1
                self.faults.held += 1
                event = self.faults.release_event
            event.wait(rule.hold_seconds)
            with self.faults.lock:
                self.faults.holding -= 1
            self.reset_connection()
        elif rule.action == "reset-after":
            try:
                status, _, _, _ = self.fetch_upstream(body, dechunked)
                self.faults.record_forwarded(self.command, path, status)
            except OSError:
                pass
            self.reset_connection()
        elif rule.action == "slow":
            time.sleep(rule.delay)
            self.pass_on(body, dechunked, path)

    def pass_on(self, body, dechunked, path):
        try:
            status, reason, headers, payload = self.fetch_upstream(body, dechunked)
        except OSError as error:
            self.send_plain(502, f"fault-proxy: upstream failed: {error!r}\n".encode())
            return
        self.faults.record_forwarded(self.command, path, status)
        self.send_reply(status, headers, payload, reason)

    def error_reply(self, rule):
        request_id = uuid.uuid4().hex.upper()[:16]
        authorization = self.headers.get("Authorization") or ""
        json_shape = "X-Amz-Target" in self.headers or ("Credential=" in authorization and "/s3/" not in authorization)
        if json_shape:
            body = json.dumps({"__type": rule.code, "message": rule.message}).encode()
            headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", rule.code),
                       ("x-amzn-RequestId", request_id)]
        else:
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(rule.code)}</Code>'
                    f"<Message>{escape(rule.message)}</Message><RequestId>{request_id}</RequestId></Error>").encode()
            headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
        return rule.status, headers, body

    def reset_connection(self):
        """Closes the client's connection with a TCP reset (SO_LINGER 0), writing nothing."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def handle_control(self, body):
        if self.path == "/__fault/stats" and self.command == "GET":
            self.send_reply(200, [("Content-Type", "application/json")], json.dumps(self.faults.snapshot()).encode())
        elif self.path == "/__fault/rules" and self.command == "POST":
            try:
                self.faults.configure(json.loads(body or b"{}"))
            except (ValueError, TypeError, KeyError, re.error) as error:
                self.send_plain(400, f"bad rules: {error}\n".encode())
                return
            self.send_reply(200, [("Content-Type", "application/json")], b"{}")
        elif self.path == "/__fault/release" and self.command == "POST":
            with self.faults.lock:
                self.faults.release_event.set()
            self.send_reply(200, [("Content-Type", "application/json")], b"{}")
        elif self.path == "/__fault/reset" and self.command == "POST":
            self.faults.reset()
            self.send_reply(200, [("Content-Type", "application/json")], b"{}")
        else:
            self.send_plain(404, b"GET /__fault/stats, POST /__fault/rules, /__fault/release or /__fault/reset\n")


def main():
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT of the server behind")
    args = parser.parse_args()
    FaultHandler.upstream = loopback_upstream(parser, args.upstream)
    FaultHandler.faults = Faults()
    server = Server((args.host, args.port), FaultHandler)
    return serve(server, args.host, args.parent_pid)


if __name__ == "__main__":
    sys.exit(main())
