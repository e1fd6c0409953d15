"""A loopback reverse proxy that checks the SigV4 signature of every request, then forwards it.

It sits in front of moto (whose own signature check mis-handles percent-encoded keys) and does
what AWS does with a request: from the request exactly as received (method, raw path and query,
the headers named in SignedHeaders, body, X-Amz-Date) it recomputes the signature with botocore's
SigV4 code and the secret of the access key in the credential scope, and answers a mismatch the
way the service would (S3: XML `SignatureDoesNotMatch`; JSON services: `InvalidSignatureException`).
Rules follow the scope's service: `s3` signs the path encoded once, as the SDKs send it (no
normalisation, no second encoding) and needs `x-amz-content-sha256` (signed, equal to SHA-256 of
the body unless UNSIGNED-PAYLOAD); every other service gets the path normalised and encoded again,
and the body's hash only in the canonical request. A request that passes goes upstream byte for
byte.

Also:
  GET  /__proxy/stats   {"checked", "accepted", "rejected", "recent_rejections": [last 20],
                         "accepted_by_key": {akid: count}, "expired_answers": count}
  GET  /__proxy/requests {"requests": [...]}: every accepted request (the last 10,000), each
                        {"service", "region", "method", "path", "query", "target", "names"}: the raw path
                        and query, X-Amz-Target, and the parameter names of a JSON body (Name, Names,
                        Path); for checking that an IAM policy allows what a program did
  POST /__proxy/reset   zeroes those counts and empties that list
  POST /__proxy/rules   {"bucketRegions": {"bucket": "region"}, "denyBuckets": {"bucket": "read"|"write"|"all"}}
                        adds S3 behaviours a test needs, after the signature check: a request for a
                        bucket in another region than it was signed for gets S3's 301
                        PermanentRedirect with x-amz-bucket-region; a denied bucket gets 403
                        AccessDenied for reads (GET, HEAD), writes (PUT, POST, DELETE) or both
                        {"expiredKeys": ["AKID", ...]}: a correctly signed request with one of these
                        keys gets the service's expired-token answer (S3: 400 ExpiredToken; JSON
                        services: 400 ExpiredTokenException), as AWS answers once a session ends
  /moto-api/...         without Authorization: passed to the upstream unchecked and uncounted
                        (moto's own reset and state endpoints)

Logs one line per request on stderr, never with the Authorization value, a token or a signature.

`--clock-offset SECONDS` shifts the proxy's clock, for tests of a client whose clock is off: the
request time is checked against it (15 minutes either way).

Usage: python3 -u sigv4_proxy.py --host 127.0.0.1 --port 0 --upstream http://127.0.0.1:PORT \
           --credentials AKID:SECRET[:TOKEN][,AKID2:SECRET2[:TOKEN2]] [--clock-offset SECONDS] [--parent-pid PID]
"""
import collections
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import re
import sys
import threading
import uuid
from urllib.parse import quote, unquote_to_bytes, urlsplit
from xml.sax.saxutils import escape

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

from _common import base_parser, serve

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = datetime.timedelta(minutes=15)
UNSIGNED_PAYLOADS = ("UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Headers that belong to one connection, not to the request; never forwarded as they came.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
              "transfer-encoding", "upgrade", "expect", "proxy-authorization", "proxy-authenticate"}
# Query parameters whose values never go into a log line (presigned URLs).
SECRET_QUERY_PARAMS = {"x-amz-signature", "x-amz-security-token", "x-amz-credential"}


# A known access key: its secret, and the session token it needs (None for a long-term key).
Key = collections.namedtuple("Key", "secret token")


def parse_credentials(text):
    """`AKID:SECRET[:TOKEN][,AKID2:SECRET2[:TOKEN2]]` -> {akid: Key}."""
    table = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        fields = item.split(":", 2)
        if len(fields) < 2 or not fields[0] or not fields[1]:
            raise ValueError("each credential is AKID:SECRET or AKID:SECRET:TOKEN")
        table[fields[0]] = Key(fields[1], fields[2] if len(fields) == 3 and fields[2] else None)
    if not table:
        raise ValueError("no credentials given")
    return table


class Rejection(Exception):
    """A request the service would refuse: HTTP status, AWS error code, message, extra fields."""

    def __init__(self, status, code, message, **extra):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra
        self.shape = "s3"  # "s3" (XML errors) or "json"; set by check_request


# What a successful check learnt about the request.
Checked = collections.namedtuple("Checked", "service region access_key")


def aws_uri_encode(raw, safe):
    """Decoded once, then encoded as AWS does: every byte but `A-Za-z0-9-_.~` and `safe` as %XX,
    upper-case hex."""
    return quote(unquote_to_bytes(raw), safe=safe)


def canonical_query_string(raw_query):
    """AWS's canonical query: every name and value decoded once, then encoded with only the
    unreserved characters left as they are (space -> %20, `+` -> %2B, `/` -> %2F, hex in upper
    case), pairs sorted by encoded name and then encoded value. A correctly encoded query comes
    out unchanged; a sloppily encoded one (a raw `:` or `+`, lowercase hex) does not, as at AWS."""
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((aws_uri_encode(name, ""), aws_uri_encode(value, "")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


class _ServerSide:
    """botocore's signer, fed with what the server received instead of what a client would send:
    exactly the headers listed in SignedHeaders (botocore's own deny-list does not apply: a client
    may sign `user-agent`), the query canonicalised as AWS does, the payload hash decided by the
    checker."""

    def headers_to_sign(self, request):
        headers = HTTPHeaders()
        for name, value in request.headers.items():
            headers[name.lower()] = value
        return headers

    def canonical_query_string(self, request):
        return canonical_query_string(request.context["raw_query"])

    def payload(self, request):
        return request.context["payload_hash"]


def s3_canonical_uri(raw_path):
    """S3's canonical URI: the path in AWS's URI encoding (every byte but `A-Za-z0-9-_.~/` as %XX,
    upper-case hex), encoded once and not normalised. For a path sent as the SDKs send it this is
    the wire path itself; S3 refuses a path signed with a raw `(`, `*`, `@` or `+` as it was sent,
    because it verifies against this encoding, and so does the proxy."""
    return aws_uri_encode(raw_path, "/")


class _S3Signer(_ServerSide, S3SigV4Auth):
    def _normalize_url_path(self, path):
        return s3_canonical_uri(path)


class _Signer(_ServerSide, SigV4Auth):
    pass


def _wire_text(value):
    """Header values arrive decoded as Latin-1; AWS signs their bytes, which are normally UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def _redact_token(canonical_request, token):
    return canonical_request.replace(token, "<redacted>") if token else canonical_request


S3_SCOPE = re.compile(r"Credential=[^/,\s]*/[^/,]*/[^/,]*/s3/")


def error_shape(headers):
    """"s3" when the request's errors are S3's XML, "json" for the JSON services. Read from the
    credential scope when there is one, else guessed: X-Amz-Target means a JSON protocol."""
    authorization = " ".join(headers.get("authorization", []))
    if "Credential=" in authorization:
        return "s3" if S3_SCOPE.search(authorization) else "json"
    return "json" if "x-amz-target" in headers else "s3"


def parse_authorization(value, shape):
    """`AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b,
    Signature=hex` -> (access_key, date, region, service, signed_headers list, signature)."""
    def malformed(message):
        if shape == "s3":
            return Rejection(400, "AuthorizationHeaderMalformed",
                             f"The authorization header is malformed; {message}")
        return Rejection(400, "IncompleteSignatureException", message)

    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise malformed(f"the authorization mechanism must be {ALGORITHM}.")
    fields = {}
    for part in rest.split(","):
        name, sep, field = part.strip().partition("=")
        if not sep or name in fields:
            raise malformed(f"'{name}' is not a single Name=Value component.")
        fields[name] = field
    missing = [n for n in ("Credential", "SignedHeaders", "Signature") if n not in fields]
    if missing or len(fields) != 3:
        raise malformed("Authorization needs exactly Credential=, SignedHeaders= and Signature= "
                        f"(missing: {', '.join(missing) or 'none'}; got {', '.join(sorted(fields))}).")
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or not all(scope) or scope[4] != "aws4_request" or not re.match(r"^\d{8}$", scope[1]):
        raise malformed("the Credential is not ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request.")
    if not HEX64.match(fields["Signature"]):
        raise malformed("the Signature is not 64 lowercase hex digits.")
    signed = fields["SignedHeaders"].split(";")
    return scope[0], scope[1], scope[2], scope[3], signed, fields["Signature"]


def check_request(method, target, header_list, body, keys, now):
    """Verifies one request as AWS would. Returns `Checked`, raises `Rejection` (with `.shape`).

    method: as received; target: the raw request-target (`/path?query`), as received;
    header_list: [(name, value)] as received, repeats kept; body: the bytes after de-chunking;
    keys: {akid: Key}; now: an aware datetime (the server's clock)."""
    headers = collections.defaultdict(list)
    for name, value in header_list:
        headers[name.lower()].append(value)
    shape = error_shape(headers)
    try:
        return _check(method, target, headers, body, keys, now, shape)
    except Rejection as rejection:
        rejection.shape = shape
        raise


def _check(method, target, headers, body, keys, now, shape):
    def one(name):
        values = headers.get(name)
        return values[0] if values and len(values) == 1 else None

    if not target.startswith("/") or "#" in target or not target.isascii():
        raise Rejection(400, "InvalidURI", "Couldn't parse the specified URI.")
    authorization = one("authorization")
    if authorization is None:
        if shape == "s3":
            raise Rejection(403, "AccessDenied", "Access Denied (the request has no single "
                            "Authorization header; the proxy checks header-signed requests only)")
        raise Rejection(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    access_key, scope_date, region, service, signed, signature = parse_authorization(authorization, shape)
    s3 = service == "s3"

    def malformed(message):
        if s3:
            return Rejection(400, "AuthorizationHeaderMalformed",
                             f"The authorization header is malformed; {message}", Region=region)
        return Rejection(400, "IncompleteSignatureException", message)

    if s3 and "x-amz-content-sha256" not in headers:
        raise Rejection(400, "InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
    # SignedHeaders: lowercase, sorted, unique, with host and x-amz-date, each one present.
    if signed != sorted(set(signed)) or any(h != h.lower() or not h for h in signed):
        raise malformed("SignedHeaders must be lowercase header names, sorted, without repeats, "
                        f"joined with ';' (got '{';'.join(signed)}').")
    for required in ("host", "x-amz-date"):
        if required not in signed:
            raise malformed(f"SignedHeaders does not include '{required}'.")
    absent = [h for h in signed if h not in headers]
    if absent:
        raise malformed(f"SignedHeaders names headers the request does not have: {', '.join(absent)}.")
    amz_date = one("x-amz-date")
    if amz_date is None or not AMZ_DATE.match(amz_date):
        raise malformed("X-Amz-Date must be a single yyyyMMddTHHmmssZ value.")
    if amz_date[:8] != scope_date:
        raise malformed(f"Invalid credential date. Date {scope_date} in the credential scope is not "
                        f"the same as X-Amz-Date {amz_date}.")

    key = keys.get(access_key)
    if key is None:
        if s3:
            raise Rejection(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not "
                            "exist in our records.", AWSAccessKeyId=access_key)
        raise Rejection(403, "UnrecognizedClientException",
                        "The security token included in the request is invalid.")

    request_time = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    if abs(now - request_time) > MAX_SKEW:
        server_time = now.strftime("%Y%m%dT%H%M%SZ")
        if s3:
            raise Rejection(403, "RequestTimeTooSkewed", "The difference between the request time "
                            "and the current time is too large.", RequestTime=amz_date,
                            ServerTime=now.strftime("%Y-%m-%dT%H:%M:%SZ"), MaxAllowedSkewMilliseconds="900000")
        if request_time < now:
            bound = (now - MAX_SKEW).strftime("%Y%m%dT%H%M%SZ")
            message = f"Signature expired: {amz_date} is now earlier than {bound} ({server_time} - 15 min.)"
        else:
            bound = (now + MAX_SKEW).strftime("%Y%m%dT%H%M%SZ")
            message = f"Signature not yet current: {amz_date} is still later than {bound} ({server_time} + 15 min.)"
        raise Rejection(400, "InvalidSignatureException", message)

    # Session token: required, signed and equal when the key has one; refused when it has none.
    tokens = headers.get("x-amz-security-token", [])
    if key.token is not None:
        if len(tokens) != 1:
            if s3:
                raise Rejection(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not "
                                "exist in our records (a temporary key needs its X-Amz-Security-Token).",
                                AWSAccessKeyId=access_key)
            raise Rejection(403, "UnrecognizedClientException",
                            "The security token included in the request is invalid.")
        if not hmac.compare_digest(tokens[0].encode("latin-1"), key.token.encode("utf-8")):
            if s3:
                raise Rejection(400, "InvalidToken", "The provided token is malformed or otherwise invalid.")
            raise Rejection(403, "UnrecognizedClientException",
                            "The security token included in the request is invalid.")
        if "x-amz-security-token" not in signed:
            raise malformed("X-Amz-Security-Token is sent but not listed in SignedHeaders.")
    elif tokens:
        if s3:
            raise Rejection(400, "InvalidToken", "The provided token is malformed or otherwise invalid "
                            "(this access key takes no session token).")
        raise Rejection(403, "UnrecognizedClientException",
                        "The security token included in the request is invalid.")

    # Payload hash.
    body_hash = hashlib.sha256(body).hexdigest()
    declared = headers.get("x-amz-content-sha256")
    if s3:
        if len(declared) != 1 or "x-amz-content-sha256" not in signed:
            raise malformed("x-amz-content-sha256 must be sent once and listed in SignedHeaders.")
        declared = declared[0]
        if declared.startswith("STREAMING-") and declared not in UNSIGNED_PAYLOADS:
            raise Rejection(501, "NotImplemented", f"The proxy does not verify chunk signatures "
                            f"(x-amz-content-sha256: {declared}); send the body in one piece.")
        if declared not in UNSIGNED_PAYLOADS:
            if not HEX64.match(declared):
                raise Rejection(400, "InvalidArgument", "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
                                "STREAMING-UNSIGNED-PAYLOAD-TRAILER, or a valid (lowercase hex) sha256 value.",
                                ArgumentName="x-amz-content-sha256", ArgumentValue=declared)
            if declared != body_hash:
                raise Rejection(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' "
                                "header does not match what was computed.",
                                ClientComputedContentSHA256=declared, S3ComputedContentSHA256=body_hash)
        payload_hash = declared
    else:
        if declared is not None and declared != [body_hash]:
            raise Rejection(400, "InvalidSignatureException",
                            "x-amz-content-sha256 does not match the SHA-256 of the body.")
        payload_hash = body_hash

    # The signature itself, with botocore.
    path, _, raw_query = target.partition("?")
    request = AWSRequest(method=method, url="http://signed-host" + path)
    for name in signed:
        for value in headers[name]:
            request.headers[name] = _wire_text(value)
    request.context["timestamp"] = amz_date
    request.context["raw_query"] = raw_query
    request.context["payload_hash"] = payload_hash
    signer = (_S3Signer if s3 else _Signer)(Credentials(access_key, key.secret, key.token), service, region)
    canonical_request = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical_request)
    expected = signer.signature(string_to_sign, request)
    if not hmac.compare_digest(expected, signature):
        shown = _redact_token(canonical_request, key.token)
        if s3:
            hint = ""
            if s3_canonical_uri(path) != path:
                hint = (f" (The path on the wire, '{path}', is not in AWS's URI encoding; S3 signs it as "
                        f"'{s3_canonical_uri(path)}'.)")
            raise Rejection(403, "SignatureDoesNotMatch", "The request signature we calculated does not "
                            "match the signature you provided. Check your key and signing method." + hint,
                            AWSAccessKeyId=access_key, StringToSign=string_to_sign,
                            StringToSignBytes=" ".join(f"{b:02x}" for b in string_to_sign.encode()),
                            CanonicalRequest=shown,
                            CanonicalRequestBytes=" ".join(f"{b:02x}" for b in shown.encode()))
        raise Rejection(400, "InvalidSignatureException", "The request signature we calculated does not "
                        "match the signature you provided. Check your AWS Secret Access Key and signing "
                        "method. Consult the service documentation for details.\n\nThe Canonical String "
                        f"for this request should have been\n'{shown}'\n\nThe String-to-Sign should have "
                        f"been\n'{string_to_sign}'\n", canonical_request=shown)
    return Checked(service, region, access_key)


def error_response(rejection):
    """(status, [(header, value)], body) for a rejection, shaped like the service's own errors."""
    request_id = uuid.uuid4().hex.upper()[:16]
    if rejection.shape == "s3":
        extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in rejection.extra.items())
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{rejection.code}</Code>'
                f"<Message>{escape(rejection.message)}</Message>{extra}"
                f"<RequestId>{request_id}</RequestId><HostId>sigv4-proxy</HostId></Error>").encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id),
                   ("x-amz-id-2", "sigv4-proxy")]
    else:
        body = json.dumps({"__type": rejection.code, "message": rejection.message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", rejection.code),
                   ("x-amzn-RequestId", request_id)]
    return rejection.status, headers, body


def loggable(target):
    """The target with presigned-URL secrets blanked out."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    parts = []
    for part in query.split("&"):
        name, eq, _ = part.partition("=")
        parts.append(f"{name}=<redacted>" if eq and name.lower() in SECRET_QUERY_PARAMS else part)
    return path + "?" + "&".join(parts)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.checked = self.accepted = self.rejected = self.expired = 0
            self.recent = collections.deque(maxlen=20)
            self.requests = collections.deque(maxlen=10000)
            self.by_key = collections.Counter()

    def record(self, rejection=None, method="", target="", access_key=None):
        with self.lock:
            self.checked += 1
            if rejection is None:
                self.accepted += 1
                if access_key:
                    self.by_key[access_key] += 1
            else:
                self.rejected += 1
                self.recent.append({"method": method, "path": loggable(target), "status": rejection.status,
                                    "code": rejection.code, "message": rejection.message.split("\n")[0]})

    def record_request(self, checked, method, target, headers, body):
        """Keeps what an accepted request asked for: never a header value but X-Amz-Target, never a
        body but the parameter names of a JSON one."""
        path, _, query = loggable(target).partition("?")
        names = []
        if body[:1] == b"{":
            try:
                document = json.loads(body)
            except ValueError:
                document = {}
            if isinstance(document, dict):
                for field in ("Name", "Path"):
                    if isinstance(document.get(field), str):
                        names.append(document[field])
                names += [n for n in document.get("Names") or [] if isinstance(n, str)]
        entry = {"service": checked.service, "region": checked.region, "method": method, "path": path,
                 "query": query, "target": headers.get("X-Amz-Target"), "names": names}
        with self.lock:
            self.requests.append(entry)

    def requests_snapshot(self):
        with self.lock:
            return {"requests": list(self.requests)}

    def snapshot(self):
        with self.lock:
            return {"checked": self.checked, "accepted": self.accepted, "rejected": self.rejected,
                    "recent_rejections": list(self.recent), "accepted_by_key": dict(self.by_key),
                    "expired_answers": self.expired}

    def record_expired(self):
        with self.lock:
            self.expired += 1


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    server_version = "sigv4-proxy"

    # Set on the class by main().
    upstream = None  # (host, port)
    keys = {}
    stats = None
    clock_offset = 0  # seconds added to this server's clock (--clock-offset)
    rules_lock = threading.Lock()
    bucket_regions = {}  # bucket -> region (shared by all connections)
    denied_buckets = {}  # bucket -> read | write | all
    expired_keys = set()  # access keys answered as expired

    def log_message(self, format, *args):  # http.server's own messages (bad request lines, ...)
        sys.stderr.write("sigv4-proxy: " + (format % args) + "\n")

    def log_line(self, text):
        operation = self.headers.get("X-Amz-Target")
        request = f"{self.command} {loggable(self.path)}" + (f" [{operation}]" if operation else "")
        sys.stderr.write(f"sigv4-proxy: {request} {text}\n")

    def do_GET(self): self.handle_any()
    def do_HEAD(self): self.handle_any()
    def do_PUT(self): self.handle_any()
    def do_POST(self): self.handle_any()
    def do_DELETE(self): self.handle_any()
    def do_PATCH(self): self.handle_any()
    def do_OPTIONS(self): self.handle_any()

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks), True
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b"", False

    def handle_any(self):
        try:
            body, dechunked = self.read_body()
        except ValueError:
            self.close_connection = True
            self.send_plain(400, b"unreadable request body\n")
            return
        self.handle_request(body, dechunked)

    def handle_request(self, body, dechunked):
        """One request whose body was read (the part a subclass replaces)."""
        if self.path.startswith("/__proxy/"):
            self._control_body = body
            return self.handle_control()
        if self.path.startswith("/moto-api/") and "Authorization" not in self.headers:
            return self.forward(body, dechunked, "moto-api (unchecked)")
        try:
            now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=self.clock_offset)
            checked = check_request(self.command, self.path, self.headers.items(), body, self.keys, now)
        except Rejection as rejection:
            self.stats.record(rejection, self.command, self.path)
            detail = rejection.message.split("\n")[0]
            canonical = rejection.extra.get("CanonicalRequest") or rejection.extra.get("canonical_request")
            if canonical:
                detail += f"; canonical request computed here: {canonical!r}"
            self.log_line(f"-> rejected {rejection.status} {rejection.code}: {detail}")
            self.send_reply(*error_response(rejection))
        else:
            self.stats.record(access_key=checked.access_key)
            self.stats.record_request(checked, self.command, self.path, self.headers, body)
            with self.rules_lock:
                expired = checked.access_key in self.expired_keys
            if expired:
                return self.answer_expired(checked)
            if checked.service == "s3" and self.apply_rules(checked):
                return
            self.forward(body, dechunked, f"{checked.service} {checked.access_key}: accepted")

    def answer_expired(self, checked):
        self.stats.record_expired()
        self.log_line(f"-> rule: key {checked.access_key} is expired: 400")
        if checked.service == "s3":
            rejection = Rejection(400, "ExpiredToken", "The provided token has expired.")
            rejection.shape = "s3"
        else:
            rejection = Rejection(400, "ExpiredTokenException", "The security token included in the request is expired")
            rejection.shape = "json"
        self.send_reply(*error_response(rejection))

    def apply_rules(self, checked):
        """Answers for S3 buckets that a test gave a region or a denial; True when it answered."""
        bucket = self.path.partition("?")[0].lstrip("/").split("/")[0]
        if not bucket:
            return False
        with self.rules_lock:
            region = self.bucket_regions.get(bucket)
            denied = self.denied_buckets.get(bucket)
        if region and region != checked.region:
            request_id = uuid.uuid4().hex.upper()[:16]
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PermanentRedirect</Code>'
                    f"<Message>The bucket you are attempting to access must be addressed using the specified "
                    f"endpoint. Please send all future requests to this endpoint.</Message>"
                    f"<Endpoint>s3.{region}.amazonaws.com</Endpoint><Bucket>{escape(bucket)}</Bucket>"
                    f"<RequestId>{request_id}</RequestId><HostId>sigv4-proxy</HostId></Error>").encode()
            self.log_line(f"-> rule: bucket {bucket} is in {region}, signed for {checked.region}: 301")
            self.send_reply(301, [("Content-Type", "application/xml"), ("x-amz-bucket-region", region),
                                  ("x-amz-request-id", request_id)], body)
            return True
        write = self.command in ("PUT", "POST", "DELETE")
        if denied == "all" or (denied == "write" and write) or (denied == "read" and not write):
            rejection = Rejection(403, "AccessDenied", "Access Denied")
            rejection.shape = "s3"
            self.log_line(f"-> rule: bucket {bucket} denies {denied}: 403")
            self.send_reply(*error_response(rejection))
            return True
        return False

    def handle_control(self):
        if self.path == "/__proxy/stats" and self.command == "GET":
            self.send_reply(200, [("Content-Type", "application/json")],
                            json.dumps(self.stats.snapshot()).encode())
        elif self.path == "/__proxy/requests" and self.command == "GET":
            self.send_reply(200, [("Content-Type", "application/json")],
                            json.dumps(self.stats.requests_snapshot()).encode())
        elif self.path == "/__proxy/reset" and self.command == "POST":
            self.stats.reset()
            self.send_reply(200, [("Content-Type", "application/json")], b"{}")
        elif self.path == "/__proxy/rules" and self.command == "POST":
            try:
                rules = json.loads(self._control_body or b"{}")
                regions = {str(k): str(v) for k, v in (rules.get("bucketRegions") or {}).items()}
                denials = {str(k): str(v) for k, v in (rules.get("denyBuckets") or {}).items()}
                if any(v not in ("read", "write", "all") for v in denials.values()):
                    raise ValueError("denyBuckets values are read, write or all")
                expired = rules.get("expiredKeys") or []
                if not isinstance(expired, list) or not all(isinstance(k, str) for k in expired):
                    raise ValueError("expiredKeys is a list of access key ids")
            except (ValueError, AttributeError) as error:
                self.send_plain(400, f"bad rules: {error}\n".encode())
                return
            with self.rules_lock:
                self.bucket_regions.update(regions)
                self.denied_buckets.update(denials)
                self.expired_keys.update(expired)
            self.send_reply(200, [("Content-Type", "application/json")], b"{}")
        else:
            self.send_plain(404, b"GET /__proxy/stats, GET /__proxy/requests, POST /__proxy/reset or POST /__proxy/rules\n")

    def fetch_upstream(self, body, dechunked):
        """Sends the request upstream as it came (Host included); returns (status, reason, headers,
        payload). Raises OSError or http.client.HTTPException when the upstream fails."""
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
        if dechunked:
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
        connection = http.client.HTTPConnection(*self.upstream, timeout=300)
        try:
            connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in headers:
                connection.putheader(name, value)
            connection.endheaders(body or None)
            response = connection.getresponse()
            payload = response.read()
            return response.status, response.reason, response.getheaders(), payload
        finally:
            connection.close()

    def forward(self, body, dechunked, verdict):
        try:
            status, reason, upstream_headers, payload = self.fetch_upstream(body, dechunked)
        except (OSError, http.client.HTTPException) as error:
            self.log_line(f"{verdict}, upstream failed: {error!r}")
            self.send_plain(502, f"{self.server_version}: upstream failed: {error!r}\n".encode())
            return
        self.log_line(f"-> {verdict} {status}")
        self.send_reply(status, upstream_headers, payload, reason)

    def send_reply(self, status, headers, payload, reason=None):
        bodyless = self.command == "HEAD" or status in (204, 304) or status < 200
        self.send_response_only(status, reason)
        for name, value in headers:
            lower = name.lower()
            if lower in ("connection", "keep-alive", "transfer-encoding", "proxy-connection"):
                continue
            if lower == "content-length" and not bodyless:
                continue  # replaced by the length actually sent
            self.send_header(name, value)
        if not bodyless:
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not bodyless:
            self.wfile.write(payload)

    def send_plain(self, status, payload):
        self.send_reply(status, [("Content-Type", "text/plain")], payload)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def loopback_upstream(parser, url):
    """(host, port) of --upstream, which must be http:// on a loopback address."""
    upstream = urlsplit(url)
    if upstream.scheme != "http" or not upstream.hostname or not upstream.port:
        parser.error("--upstream must be http://HOST:PORT")
    if not (upstream.hostname.startswith("127.") or upstream.hostname in ("localhost", "::1")):
        parser.error("--upstream must be a loopback address")
    return upstream.hostname, upstream.port


def main():
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT of the server behind")
    parser.add_argument("--credentials", required=True,
                        help="AKID:SECRET[:TOKEN][,AKID2:SECRET2[:TOKEN2]]: the keys the proxy knows")
    parser.add_argument("--clock-offset", type=int, default=0,
                        help="seconds to add to the proxy's clock: stands for a client host whose clock is off")
    args = parser.parse_args()
    upstream = loopback_upstream(parser, args.upstream)
    try:
        keys = parse_credentials(args.credentials)
    except ValueError as error:
        parser.error(str(error))

    ProxyHandler.upstream = upstream
    ProxyHandler.keys = keys
    ProxyHandler.clock_offset = args.clock_offset
    ProxyHandler.stats = Stats()
    server = Server((args.host, args.port), ProxyHandler)
    return serve(server, args.host, args.parent_pid)


if __name__ == "__main__":
    sys.exit(main())
