#!/usr/bin/env python3
"""Loopback HTTP/1.1 fixture for the transport tests and the transport benchmark.

One asyncio event loop (one thread) holds every connection, so thousands of concurrent, slow
requests cost no threads. Requests are parsed by hand so that the request target, the header
list and the body reach the handlers exactly as they came off the wire.

Every response carries `X-Connection-Id` (a counter per accepted connection) and
`X-Client-Port`, so tests can tell whether connections were reused.

Paths (any method; HEAD gets the GET headers, Content-Length included, and no body):
  /ok                 200 "ok"; ?delay_ms=N answers after N ms (the benchmark's 200 ms requests)
  /echo[/...]         200 JSON: method, target (path+query byte-exact), path, query, the header
                      list in order, host, contentType, expect (present or not), bodyLength,
                      bodySha256, connectionId, clientPort
  /reflect            200 with the request body as the response body
  /status/NNN         status NNN
  /delay?ms=N         200 after N ms
  /barrier?id=X&n=N[&ms=T]
                      holds each request until N requests with the same id have arrived, then
                      answers them all 200; 504 for those still waiting after T ms (default 5000).
                      Shows that requests really are in flight at the same time.
  /drip?count=N&interval_ms=M
                      Content-Length N, one byte every M ms
  /big?bytes=N        N bytes: byte i is i % 256
  /headers            repeated response headers, in a known order
  /stall[?id=X]       reads the request, never answers
  /stalled?id=X       the number of /stall?id=X requests being held now (text), so that a test can
                      wait until its requests have reached the server
  /slowbody           Content-Length 100, sends 10 bytes, then silence
  /reset              reads the request, then resets the connection (SO_LINGER 0: RST)
  /close              reads the request, then hangs up without a response (FIN)
  /backlog            JSON {"port": P}: a listener on 127.0.0.1:P whose backlog is full and which
                      never accepts, so connecting to it times out
  /tls                JSON {"port": P, "caPEM": PEM}: the same paths over HTTPS (HTTP/1.1) on
                      127.0.0.1:P, with a fresh self-signed certificate for IP 127.0.0.1, given in
                      PEM (404 when the openssl command is missing)
"""
import asyncio
import hashlib
import itertools
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from _common import announce, base_parser, watch_parent

PATTERN = bytes(range(256)) * 4096  # 1 MiB; /big sends byte i = i % 256
MAX_BODY = 256 * 1024 * 1024

connection_ids = itertools.count(1)
backlog_port = None
backlog_sockets = []
tls_info = None
barriers = {}  # id -> [arrived, asyncio.Event]
stalled = {}  # id -> number of /stall requests held


def make_full_backlog_listener():
    """A listener that never accepts, with its accept queue filled so that new SYNs are dropped."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    backlog_sockets.append(listener)
    for _ in range(4):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        backlog_sockets.append(s)
    return port


def make_tls_context():
    """A server context with a fresh self-signed certificate for 127.0.0.1, or None without openssl."""
    openssl = shutil.which("openssl")
    if not openssl:
        return None, None
    directory = tempfile.mkdtemp(prefix="http_fixture_tls_")
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["http/1.1"])
    with open(cert) as f:
        pem = f.read()
    shutil.rmtree(directory)
    return context, pem


class Request:
    def __init__(self, method, target, version, headers, body):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # [(name, value)] in order
        self.body = body
        path, _, query = target.partition("?")
        self.path = path
        self.query = query
        self.params = {k: v[-1] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}

    def header(self, name):
        lower = name.lower()
        for n, v in self.headers:
            if n.lower() == lower:
                return v
        return None


async def read_request(reader, writer):
    line = await reader.readline()
    if not line:
        return None
    parts = line.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3:
        raise ValueError(f"bad request line {line!r}")
    method, target, version = parts
    headers = []
    while True:
        h = await reader.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode("latin-1").rstrip("\r\n").partition(":")
        headers.append((name, value.strip()))
    req = Request(method, target, version, headers, b"")
    if (req.header("Expect") or "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
    if req.header("Content-Length") is not None:
        n = int(req.header("Content-Length"))
        if n > MAX_BODY:
            raise ValueError("body too large")
        req.body = await reader.readexactly(n)
    elif (req.header("Transfer-Encoding") or "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip(), 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunks.append(await reader.readexactly(size))
            await reader.readline()
        req.body = b"".join(chunks)
    return req


def status_text(code):
    try:
        from http import HTTPStatus
        return HTTPStatus(code).phrase
    except ValueError:
        return "Status"


async def send(writer, req, conn, status, headers=(), body=b"", length=None):
    """Writes a response; `body` is bytes or an async iterator of bytes (then `length` is required)."""
    lines = [f"HTTP/1.1 {status} {status_text(status)}"]
    lines += [f"{n}: {v}" for n, v in headers]
    lines.append(f"X-Connection-Id: {conn['id']}")
    lines.append(f"X-Client-Port: {conn['port']}")
    no_body = status in (204, 304) or 100 <= status < 200
    if not no_body:
        lines.append(f"Content-Length: {len(body) if length is None else length}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    if req.method != "HEAD" and not no_body:
        if isinstance(body, (bytes, bytearray)):
            writer.write(body)
        else:
            async for chunk in body:
                writer.write(chunk)
                await writer.drain()
    await writer.drain()


async def wait_for_hangup(reader):
    while await reader.read(65536):
        pass


def int_param(req, name, default=0):
    try:
        return int(req.params.get(name, default))
    except ValueError:
        return default


async def pattern_stream(n):
    sent = 0
    while sent < n:
        chunk = PATTERN[: min(len(PATTERN), n - sent)]
        sent += len(chunk)
        yield chunk


async def drip(count, interval):
    for _ in range(count):
        await asyncio.sleep(interval)
        yield b"x"


async def respond(req, reader, writer, conn):
    """Returns False when the connection must end."""
    path = req.path
    if path == "/ok":
        delay = int_param(req, "delay_ms")
        if delay:
            await asyncio.sleep(delay / 1000)
        await send(writer, req, conn, 200, [("Content-Type", "text/plain")], b"ok")
    elif path == "/echo" or path.startswith("/echo/"):
        info = {
            "method": req.method,
            "target": req.target,
            "path": req.path,
            "query": req.query,
            "headers": [[n, v] for n, v in req.headers],
            "host": req.header("Host"),
            "contentType": req.header("Content-Type"),
            "expect": req.header("Expect") is not None,
            "bodyLength": len(req.body),
            "bodySha256": hashlib.sha256(req.body).hexdigest(),
            "connectionId": conn["id"],
            "clientPort": conn["port"],
        }
        await send(writer, req, conn, 200, [("Content-Type", "application/json")], json.dumps(info).encode())
    elif path == "/reflect":
        headers = [("Content-Type", "application/octet-stream"), ("X-Echo-Method", req.method)]
        await send(writer, req, conn, 200, headers, req.body)
    elif path.startswith("/status/"):
        code = int(path[len("/status/"):])
        await send(writer, req, conn, code, [("Content-Type", "text/plain")], f"status {code}".encode())
    elif path == "/delay":
        await asyncio.sleep(int_param(req, "ms") / 1000)
        await send(writer, req, conn, 200, [("Content-Type", "text/plain")], b"delayed")
    elif path == "/barrier":
        key, wanted = req.params.get("id", ""), int_param(req, "n", 2)
        barrier = barriers.setdefault(key, [0, asyncio.Event()])
        barrier[0] += 1
        if barrier[0] >= wanted:
            barrier[1].set()
        try:
            await asyncio.wait_for(barrier[1].wait(), int_param(req, "ms", 5000) / 1000)
            await send(writer, req, conn, 200, [("Content-Type", "text/plain")], f"{barrier[0]} arrived".encode())
        except asyncio.TimeoutError:
            await send(writer, req, conn, 504, [("Content-Type", "text/plain")], f"only {barrier[0]} arrived".encode())
    elif path == "/drip":
        count = int_param(req, "count", 5)
        interval = int_param(req, "interval_ms", 100) / 1000
        await send(writer, req, conn, 200, [("Content-Type", "text/plain")], drip(count, interval), count)
    elif path == "/big":
        n = int_param(req, "bytes")
        await send(writer, req, conn, 200, [("Content-Type", "application/octet-stream")], pattern_stream(n), n)
    elif path == "/headers":
        headers = [
            ("Content-Type", "text/plain"),
            ("X-Multi", "one"),
            ("Set-Cookie", "a=1"),
            ("X-Multi", "two"),
            ("Set-Cookie", "b=2"),
            ("X-Spaces", "  padded value  "),
            ("X-Multi", "three"),
        ]
        await send(writer, req, conn, 200, headers, b"headers")
    elif path == "/stall":
        key = req.params.get("id", "")
        stalled[key] = stalled.get(key, 0) + 1
        try:
            await wait_for_hangup(reader)
        finally:
            stalled[key] -= 1
        return False
    elif path == "/stalled":
        count = stalled.get(req.params.get("id", ""), 0)
        await send(writer, req, conn, 200, [("Content-Type", "text/plain")], str(count).encode())
    elif path == "/slowbody":
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n" + b"0123456789")
        await writer.drain()
        await wait_for_hangup(reader)
        return False
    elif path == "/reset":
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        return False
    elif path == "/close":
        writer.close()
        return False
    elif path == "/tls":
        if tls_info is None:
            await send(writer, req, conn, 404, [("Content-Type", "text/plain")], b"no openssl command")
        else:
            await send(writer, req, conn, 200, [("Content-Type", "application/json")], json.dumps(tls_info).encode())
    elif path == "/backlog":
        await send(writer, req, conn, 200, [("Content-Type", "application/json")],
                   json.dumps({"port": backlog_port}).encode())
    else:
        await send(writer, req, conn, 404, [("Content-Type", "text/plain")], b"no such path")
    return (req.header("Connection") or "").lower() != "close"


async def handle(reader, writer):
    peer = writer.get_extra_info("peername")
    conn = {"id": next(connection_ids), "port": peer[1] if peer else 0}
    try:
        while True:
            req = await read_request(reader, writer)
            if req is None:
                break
            if not await respond(req, reader, writer, conn):
                break
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    except Exception as error:  # a fixture bug: say so, answer 500, end the connection
        print(f"http_fixture: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        try:
            writer.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        except Exception:
            pass
    finally:
        if not writer.transport.is_closing():
            writer.close()


def watch_reparenting(parent_pid):
    """Exits as soon as the parent has exited, even while it is a zombie: `swift test` reaps the test
    process only once its output pipe (which this server's stderr shares) is closed, and
    `os.kill(pid, 0)` succeeds on a zombie, so watch_parent alone would wait for ever. Exiting
    reparents the children at once, so getppid() changes."""
    if not parent_pid or os.getppid() != parent_pid:
        return

    def loop():
        while os.getppid() == parent_pid:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=loop, daemon=True).start()


async def main():
    global backlog_port, tls_info
    args = base_parser(__doc__.splitlines()[0]).parse_args()
    watch_parent(args.parent_pid)
    watch_reparenting(args.parent_pid)
    backlog_port = make_full_backlog_listener()
    context, ca_pem = make_tls_context()
    if context is not None:
        tls_server = await asyncio.start_server(handle, args.host, 0, ssl=context, backlog=1024, limit=1 << 20)
        tls_info = {"port": tls_server.sockets[0].getsockname()[1], "caPEM": ca_pem}
    server = await asyncio.start_server(handle, args.host, args.port, backlog=4096, limit=1 << 20)
    port = server.sockets[0].getsockname()[1]
    announce(args.host, port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
