"""A loopback stand-in for the services credentials come from: STS, the ECS / EKS Pod Identity
container endpoint, and the EC2 instance metadata service (IMDS), all on one port.

Every answer that gives credentials hands out the next key of --issue (in turn, cycling), each
expiring --expires-in seconds from now, so a sigv4_proxy.py started with the same keys accepts
requests signed with them.

  POST /                        STS, query protocol (Action=...&Version=2011-06-15):
                                  AssumeRole: the SigV4 signature is checked (sigv4_proxy's checker)
                                    against --source keys and the issued keys (chained roles sign
                                    with issued keys); RoleArn, RoleSessionName, ExternalId and
                                    DurationSeconds are recorded.
                                  AssumeRoleWithWebIdentity: must be unsigned; WebIdentityToken must
                                    equal the expected token (--web-identity-token, or /__stand-in/config);
                                    the next `idpFailures` (config) get 400 IDPCommunicationError first.
  GET  /container/...           the container endpoint: Authorization must equal --container-token.
  PUT  /latest/api/token        IMDSv2 token (needs x-aws-ec2-metadata-token-ttl-seconds); answered
                                  with `imdsTokenStatus` instead when configured (403/404/405: IMDSv1 hosts).
  GET  /latest/meta-data/iam/security-credentials/[ROLE], /latest/meta-data/placement/region:
                                  need the token unless IMDSv1 is allowed (`imdsV1`, or a token status set).
  GET  /__stand-in/stats        {"calls": {name: count}, "last": {name: {recorded fields}}, "rejected": [...]}
  POST /__stand-in/config       {"expiresIn", "webIdentityToken", "containerToken", "imdsTokenStatus", "imdsV1",
                                 "idpFailures"}
  POST /__stand-in/reset        zeroes the counts

Logs one line per request on stderr, never with a token, a key's secret or a signature.

Usage: python3 -u credentials_server.py --host 127.0.0.1 --port 0 --issue AKID:SECRET:TOKEN[,...]
           [--source AKID:SECRET[,...]] [--web-identity-token T] [--container-token T]
           [--expires-in SECONDS] [--parent-pid PID]
"""
import collections
import datetime
import http.server
import json
import sys
import threading
import uuid
from urllib.parse import parse_qs

from _common import base_parser, serve
from sigv4_proxy import Rejection, Server, check_request, parse_credentials

IMDS_ROLE = "conveyor-test-role"
IMDS_REGION = "eu-central-1"


class State:
    def __init__(self, issue, source, web_token, container_token, expires_in):
        self.lock = threading.Lock()
        self.issue = issue  # [(akid, Key)]
        self.source = source  # {akid: Key}
        self.next = 0
        self.config = {"expiresIn": expires_in, "webIdentityToken": web_token, "containerToken": container_token,
                       "imdsTokenStatus": None, "imdsV1": False, "idpFailures": 0}
        self.tokens = set()  # IMDSv2 tokens handed out
        self.reset()

    def reset(self):
        with self.lock:
            self.calls = collections.Counter()
            self.last = {}
            self.rejected = collections.deque(maxlen=20)

    def count(self, name, **recorded):
        with self.lock:
            self.calls[name] += 1
            self.last[name] = recorded

    def reject(self, name, why):
        with self.lock:
            self.calls[name + ":rejected"] += 1
            self.rejected.append({"call": name, "why": why})

    def next_key(self):
        with self.lock:
            akid, key = self.issue[self.next % len(self.issue)]
            self.next += 1
            expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
                seconds=int(self.config["expiresIn"]))
            return akid, key, expires

    def known_keys(self):
        with self.lock:
            keys = dict(self.source)
            keys.update(dict(self.issue))
            return keys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "credentials-stand-in"
    state = None

    def log_message(self, format, *args):
        sys.stderr.write("credentials-stand-in: " + (format % args) + "\n")

    def log_line(self, text):
        sys.stderr.write(f"credentials-stand-in: {self.command} {self.path.partition('?')[0]} {text}\n")

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status, payload, content_type="application/json", headers=()):
        self.send_response_only(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def do_GET(self): self.route(b"")
    def do_PUT(self): self.route(self.body())
    def do_POST(self): self.route(self.body())

    def route(self, body):
        path = self.path.partition("?")[0]
        if path.startswith("/__stand-in/"):
            return self.control(path, body)
        if path == "/" and self.command == "POST":
            return self.sts(body)
        if path.startswith("/container/") and self.command == "GET":
            return self.container()
        if path.startswith("/latest/"):
            return self.imds(path)
        self.reply(404, b'{"message": "no such route"}')

    # --- control -------------------------------------------------------------------------------

    def control(self, path, body):
        state = self.state
        if path == "/__stand-in/stats" and self.command == "GET":
            with state.lock:
                snapshot = {"calls": dict(state.calls), "last": dict(state.last), "rejected": list(state.rejected)}
            return self.reply(200, json.dumps(snapshot).encode())
        if path == "/__stand-in/reset" and self.command == "POST":
            state.reset()
            return self.reply(200, b"{}")
        if path == "/__stand-in/config" and self.command == "POST":
            try:
                update = json.loads(body or b"{}")
                unknown = set(update) - set(state.config)
                if unknown:
                    raise ValueError(f"unknown settings {sorted(unknown)}")
            except ValueError as error:
                return self.reply(400, json.dumps({"message": str(error)}).encode())
            with state.lock:
                state.config.update(update)
            return self.reply(200, b"{}")
        self.reply(404, b'{"message": "GET stats, POST reset or POST config"}')

    # --- STS -----------------------------------------------------------------------------------

    def sts_error(self, status, code, message):
        request_id = str(uuid.uuid4())
        body = (f'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
                f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId>"
                f"</ErrorResponse>").encode()
        self.log_line(f"-> {status} {code}")
        self.reply(status, body, "text/xml", [("x-amzn-RequestId", request_id)])

    def sts(self, body):
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        action = form.get("Action", "")
        if form.get("Version") != "2011-06-15":
            self.state.reject(action or "sts", "Version is not 2011-06-15")
            return self.sts_error(400, "InvalidAction", "Version must be 2011-06-15")
        if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            self.state.reject(action, "not form-encoded")
            return self.sts_error(400, "InvalidParameterValue", "the body must be form-encoded")
        for required in ("RoleArn", "RoleSessionName"):
            if not form.get(required):
                self.state.reject(action, f"no {required}")
                return self.sts_error(400, "ValidationError", f"{required} is required")
        if action == "AssumeRole":
            try:
                checked = check_request(self.command, self.path, self.headers.items(), body,
                                        self.state.known_keys(), datetime.datetime.now(datetime.timezone.utc))
            except Rejection as rejection:
                self.state.reject(action, f"{rejection.code}: {rejection.message.splitlines()[0]}")
                return self.sts_error(403, "SignatureDoesNotMatch" if rejection.code == "InvalidSignatureException"
                                      else rejection.code, "The request signature we calculated does not match")
            if checked.service != "sts":
                self.state.reject(action, f"signed for {checked.service}")
                return self.sts_error(403, "SignatureDoesNotMatch", "Credential should be scoped to sts")
            self.state.count(action, RoleArn=form["RoleArn"], RoleSessionName=form["RoleSessionName"],
                             ExternalId=form.get("ExternalId"), DurationSeconds=form.get("DurationSeconds"),
                             SignedBy=checked.access_key, Region=checked.region)
        elif action == "AssumeRoleWithWebIdentity":
            if "Authorization" in self.headers:
                self.state.reject(action, "signed, but must be unsigned")
                return self.sts_error(400, "InvalidParameterValue", "AssumeRoleWithWebIdentity is unsigned")
            with self.state.lock:
                expected = self.state.config["webIdentityToken"]
                failing = self.state.config["idpFailures"] > 0
                if failing:
                    self.state.config["idpFailures"] -= 1
            if failing:
                self.state.reject(action, "IDPCommunicationError (configured)")
                return self.sts_error(400, "IDPCommunicationError", "The identity provider could not be reached")
            if form.get("WebIdentityToken") != expected:
                self.state.reject(action, "wrong web identity token")
                return self.sts_error(400, "InvalidIdentityToken", "The web identity token is not valid")
            self.state.count(action, RoleArn=form["RoleArn"], RoleSessionName=form["RoleSessionName"])
        else:
            self.state.reject(action or "sts", "unknown action")
            return self.sts_error(400, "InvalidAction", "unknown action")
        akid, key, expires = self.state.next_key()
        body = (f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><{action}Result>'
                f"<Credentials><AccessKeyId>{akid}</AccessKeyId><SecretAccessKey>{key.secret}</SecretAccessKey>"
                f"<SessionToken>{key.token}</SessionToken>"
                f"<Expiration>{expires.strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration></Credentials>"
                f"<AssumedRoleUser><Arn>{form['RoleArn']}/{form['RoleSessionName']}</Arn>"
                f"<AssumedRoleId>AROATEST:{form['RoleSessionName']}</AssumedRoleId></AssumedRoleUser>"
                f"</{action}Result><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
                f"</{action}Response>").encode()
        self.log_line(f"{action} -> 200 {akid}")
        self.reply(200, body, "text/xml")

    # --- container endpoint --------------------------------------------------------------------

    def container(self):
        with self.state.lock:
            expected = self.state.config["containerToken"]
        if expected is not None and self.headers.get("Authorization") != expected:
            self.state.reject("container", "wrong or missing Authorization")
            self.log_line("-> 401")
            return self.reply(401, b'{"message": "unauthorized"}')
        self.state.count("container", Accept=self.headers.get("Accept"))
        akid, key, expires = self.state.next_key()
        # The Pod Identity agent writes the offset form; ECS writes Z. Both must parse.
        payload = {"AccessKeyId": akid, "SecretAccessKey": key.secret, "Token": key.token,
                   "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                   "RoleArn": "arn:aws:iam::123456789012:role/conveyor-test"}
        self.log_line(f"-> 200 {akid}")
        self.reply(200, json.dumps(payload).encode())

    # --- IMDS ----------------------------------------------------------------------------------

    def imds(self, path):
        state = self.state
        with state.lock:
            token_status = state.config["imdsTokenStatus"]
            v1 = state.config["imdsV1"] or token_status is not None
        if path == "/latest/api/token":
            if self.command != "PUT":
                return self.reply(405, b"", "text/plain")
            state.count("imds-token")
            if token_status is not None:
                self.log_line(f"-> {token_status} (configured)")
                return self.reply(int(token_status), b"", "text/plain")
            if not self.headers.get("x-aws-ec2-metadata-token-ttl-seconds"):
                state.reject("imds-token", "no ttl header")
                return self.reply(400, b"", "text/plain")
            token = uuid.uuid4().hex
            with state.lock:
                state.tokens.add(token)
            self.log_line("-> 200 token")
            return self.reply(200, token.encode(), "text/plain")
        token = self.headers.get("x-aws-ec2-metadata-token")
        with state.lock:
            valid = token in state.tokens
        if not valid and not (v1 and token is None):
            state.reject(path, "no valid IMDSv2 token")
            self.log_line("-> 401")
            return self.reply(401, b"", "text/plain")
        base = "/latest/meta-data/iam/security-credentials/"
        if path == base:
            state.count("imds-role", v2=valid)
            return self.reply(200, IMDS_ROLE.encode(), "text/plain")
        if path == base + IMDS_ROLE:
            state.count("imds-credentials", v2=valid)
            akid, key, expires = state.next_key()
            payload = {"Code": "Success", "LastUpdated": datetime.datetime.now(datetime.timezone.utc)
                       .strftime("%Y-%m-%dT%H:%M:%SZ"), "Type": "AWS-HMAC", "AccessKeyId": akid,
                       "SecretAccessKey": key.secret, "Token": key.token,
                       "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
            self.log_line(f"-> 200 {akid}")
            return self.reply(200, json.dumps(payload).encode(), "text/plain")
        if path == "/latest/meta-data/placement/region":
            state.count("imds-region", v2=valid)
            return self.reply(200, IMDS_REGION.encode(), "text/plain")
        self.reply(404, b"", "text/plain")


def main():
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--issue", required=True, help="AKID:SECRET:TOKEN[,...]: the keys handed out, in turn")
    parser.add_argument("--source", default="", help="AKID:SECRET[:TOKEN][,...]: keys that may sign AssumeRole")
    parser.add_argument("--web-identity-token", default=None)
    parser.add_argument("--container-token", default=None)
    parser.add_argument("--expires-in", type=int, default=3600)
    args = parser.parse_args()
    try:
        issue = list(parse_credentials(args.issue).items())
        source = parse_credentials(args.source) if args.source else {}
    except ValueError as error:
        parser.error(str(error))
    if any(key.token is None for _, key in issue):
        parser.error("issued keys are temporary: each needs a token (AKID:SECRET:TOKEN)")
    Handler.state = State(issue, source, args.web_identity_token, args.container_token, args.expires_in)
    return serve(Server((args.host, args.port), Handler), args.host, args.parent_pid)


if __name__ == "__main__":
    sys.exit(main())
