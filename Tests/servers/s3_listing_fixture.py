"""A loopback stand-in for S3's ListObjectsV2 over a bucket too big for moto: the keys are made up
page by page as they are asked for, never held.

  GET /BUCKET?list-type=2[&prefix=P][&continuation-token=T][&max-keys=N][&start-after=K]
      a page of the keys P + "k%07d.json" % i for i in 0 ..< --keys (default 1,000,000), in key
      order, at most N (default and most 1000) per page; the continuation token is the next index
  GET /__listing/stats   {"pages": pages served, "keys": keys served}
  anything else          404 NoSuchKey

Signatures are not checked (this is for listing at scale; sigv4_proxy.py checks signatures).

Usage: python3 -u s3_listing_fixture.py --host 127.0.0.1 --port 0 [--keys N] [--parent-pid PID]
"""
import http.server
import json
import sys
import threading
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from _common import base_parser, serve


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    total_keys = 1_000_000
    lock = threading.Lock()
    pages = 0
    keys_served = 0

    def log_message(self, format, *args):
        pass

    def reply(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/__listing/stats":
            with Handler.lock:
                stats = {"pages": Handler.pages, "keys": Handler.keys_served}
            return self.reply(200, "application/json", json.dumps(stats).encode())
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        bucket = url.path.strip("/")
        if "/" in bucket or not bucket or query.get("list-type") != "2":
            body = b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>only ListObjectsV2</Message></Error>'
            return self.reply(404, "application/xml", body)
        prefix = query.get("prefix", "")
        max_keys = max(1, min(1000, int(query.get("max-keys", "1000"))))
        start = int(query.get("continuation-token", "0"))
        if "start-after" in query and start == 0:
            after = query["start-after"]
            start = next((i for i in range(self.total_keys) if self.key(prefix, i) > after), self.total_keys)
        end = min(self.total_keys, start + max_keys)
        contents = "".join(
            f"<Contents><Key>{escape(self.key(prefix, i))}</Key><LastModified>2026-11-30T02:00:00.000Z</LastModified>"
            f'<ETag>"0123456789abcdef0123456789abcdef"</ETag><Size>100</Size><StorageClass>STANDARD</StorageClass></Contents>'
            for i in range(start, end))
        truncated = end < self.total_keys
        token = f"<NextContinuationToken>{end}</NextContinuationToken>" if truncated else ""
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix><KeyCount>{end - start}</KeyCount>"
                f"<MaxKeys>{max_keys}</MaxKeys><IsTruncated>{'true' if truncated else 'false'}</IsTruncated>{token}"
                f"{contents}</ListBucketResult>").encode()
        with Handler.lock:
            Handler.pages += 1
            Handler.keys_served += end - start
        self.reply(200, "application/xml", body)

    @staticmethod
    def key(prefix, i):
        return f"{prefix}k{i:07d}.json"


def main():
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    args = parser.parse_args()
    Handler.total_keys = args.keys
    server = http.server.ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    return serve(server, args.host, args.parent_pid)


if __name__ == "__main__":
    sys.exit(main())
