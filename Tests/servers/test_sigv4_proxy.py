"""Self-test of sigv4_proxy.py: plain Python, no pytest.

1. The checker alone against published SigV4 vectors (aws-c-auth, the S3 API reference, and the
   botocore captures in shared/reference/aws-protocols.md) and against each way a request can be
   refused.
2. The proxy in front of its own moto: boto3 (the reference client) does S3 and SSM calls through
   it with awkward keys, paging, multipart and a session-token key, and every request must be
   checked and accepted; requests signed with a wrong secret or key, or altered after signing
   (body, path, query, header), or signed at the wrong time must be refused the way AWS does;
   HTTP/1.1 keep-alive, HEAD, Expect: 100-continue and chunked bodies must work; the log must hold
   no secret.

Run: python3 Tests/servers/test_sigv4_proxy.py [NAME_SUBSTRING...]
Ends with `selftest: N passed, M failed`; exits 1 if anything failed.
"""
import datetime
import hashlib
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import traceback
import unittest.mock
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# Never let a developer's real AWS set-up take part.
os.environ.update({"AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": os.devnull,
                   "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID",
             "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SSM"):
    os.environ.pop(name, None)

import boto3  # noqa: E402
import botocore.auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from sigv4_proxy import Rejection, check_request, parse_credentials  # noqa: E402

AK, SK = "AKIDCONVEYORTEST", "conveyor-test-secret"
TAK, TSK, TOKEN = "ASIACONVEYORTEST", "conveyor-test-token-secret", "conveyor-test-session-token"
CREDENTIALS = f"{AK}:{SK},{TAK}:{TSK}:{TOKEN}"
EMPTY = hashlib.sha256(b"").hexdigest()
AWKWARD_KEYS = ["dir a/b+c=d&e~f:(g).jsonl", "plus+sign", "plus sign", "eq=amp&colon:",
                "paren(1)", "é/日本/ファイル.txt", "pct%2Bliteral", "semi;comma,at@dollar$"]

TESTS = []


def test(function):
    TESTS.append(function)
    return function


def at(stamp):
    return datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)


def authorization(access_key, scope, signed, signature):
    return f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"


def expect_rejection(code, status, *args):
    try:
        check_request(*args)
    except Rejection as rejection:
        assert (rejection.code, rejection.status) == (code, status), \
            f"expected {status} {code}, got {rejection.status} {rejection.code}: {rejection.message}"
        return rejection
    raise AssertionError(f"expected {status} {code}, the request was accepted")


# --- 1. The checker against published vectors -----------------------------------------------

VECTOR_KEYS = parse_credentials("AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,"
                                "AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
C_AUTH = "20150830/us-east-1/service/aws4_request"


@test
def vectors_aws_c_auth_general_rules():
    now = at("20150830T123600Z")
    cases = [  # target, extra headers, body, signed headers, signature
        ("/", [], b"", "host;x-amz-date",
         "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),  # get-vanilla
        ("/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1", [], b"", "host;x-amz-date",
         "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"),  # query-order-encoded
        ("/", [("My-Header1", " value1"), ("My-Header2", '"a   b   c"')], b"", "host;my-header1;my-header2;x-amz-date",
         "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),  # header-value-trim
        ("//example//", [], b"", "host;x-amz-date",
         "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"),  # slashes-normalized
    ]
    for target, extra, body, signed, signature in cases:
        headers = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")] + extra
        headers.append(("Authorization", authorization("AKIDEXAMPLE", C_AUTH, signed, signature)))
        checked = check_request("GET", target, headers, body, VECTOR_KEYS, now)
        assert checked.service == "service", target
    # get-vanilla-with-session-token, with that token configured for the key
    keys = parse_credentials("AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY:"
                             "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267")
    check_request("GET", "/", [
        ("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z"),
        ("X-Amz-Security-Token", "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"),
        ("Authorization", authorization("AKIDEXAMPLE", C_AUTH, "host;x-amz-date;x-amz-security-token",
                                        "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"))],
        b"", keys, now)
    # post-x-www-form-urlencoded (sign_body: x-amz-content-sha256 sent and signed)
    body = b"Param1=value1"
    check_request("POST", "/", [
        ("Content-Type", "application/x-www-form-urlencoded"), ("Content-Length", "13"),
        ("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z"),
        ("x-amz-content-sha256", hashlib.sha256(body).hexdigest()),
        ("Authorization", authorization(
            "AKIDEXAMPLE", C_AUTH, "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
            "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"))], body, VECTOR_KEYS, now)


@test
def vectors_s3_reference_and_botocore_captures():
    s3_ref = "20130524/us-east-1/s3/aws4_request"
    now = at("20130524T000000Z")
    base = [("Host", "examplebucket.s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z")]
    check_request("GET", "/test.txt", base + [
        ("Range", "bytes=0-9"), ("x-amz-content-sha256", EMPTY),
        ("Authorization", authorization("AKIAIOSFODNN7EXAMPLE", s3_ref, "host;range;x-amz-content-sha256;x-amz-date",
                                        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"))],
        b"", VECTOR_KEYS, now)
    # `%24` stays `%24` in the canonical URI: no second encoding for S3.
    body = b"Welcome to Amazon S3."
    check_request("PUT", "/test%24file.text", base + [
        ("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("x-amz-content-sha256", hashlib.sha256(body).hexdigest()),
        ("Authorization", authorization(
            "AKIAIOSFODNN7EXAMPLE", s3_ref, "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"))], body, VECTOR_KEYS, now)
    check_request("GET", "/?max-keys=2&prefix=J", base + [
        ("x-amz-content-sha256", EMPTY),
        ("Authorization", authorization("AKIAIOSFODNN7EXAMPLE", s3_ref, "host;x-amz-content-sha256;x-amz-date",
                                        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"))],
        b"", VECTOR_KEYS, now)
    now = at("20250102T030405Z")
    check_request("PUT", "/out/x%20y.jsonl", [
        ("Host", "my-bucket.s3.eu-west-1.amazonaws.com"), ("If-None-Match", "*"),
        ("x-amz-content-sha256", hashlib.sha256(b"hello").hexdigest()), ("X-Amz-Date", "20250102T030405Z"),
        ("Authorization", authorization("AKIDEXAMPLE", "20250102/eu-west-1/s3/aws4_request",
                                        "host;if-none-match;x-amz-content-sha256;x-amz-date",
                                        "662af7dcefd8b2b71583555cb069be6a25e6e48d7046e8448186c4d7604e2d8b"))],
        b"hello", VECTOR_KEYS, now)
    check_request("GET", "/?continuation-token=abc%2F%2B%3D&encoding-type=url&list-type=2&max-keys=5"
                  "&prefix=in%20put%2F", [
                      ("Host", "my-bucket.s3.amazonaws.com"), ("x-amz-content-sha256", EMPTY),
                      ("X-Amz-Date", "20250102T030405Z"),
                      ("Authorization", authorization(
                          "AKIDEXAMPLE", "20250102/us-east-1/s3/aws4_request", "host;x-amz-content-sha256;x-amz-date",
                          "28cf468dcd80416bfb1f7bc54ad66730174bcd2db89f99265bd3dd81397cd7be"))],
                  b"", VECTOR_KEYS, now)
    body = b'{"Name": "/app/prod/key", "WithDecryption": true}'
    checked = check_request("POST", "/", [
        ("Host", "ssm.eu-west-1.amazonaws.com"), ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", "AmazonSSM.GetParameter"), ("X-Amz-Date", "20250102T030405Z"),
        ("Authorization", authorization("AKIDEXAMPLE", "20250102/eu-west-1/ssm/aws4_request",
                                        "content-type;host;x-amz-date;x-amz-target",
                                        "0c0da2d7a26e9e2f1dfd31dcda72a610340ed7d87548c0070e09a9b340604cbc"))],
        body, VECTOR_KEYS, now)
    assert (checked.service, checked.region, checked.access_key) == ("ssm", "eu-west-1", "AKIDEXAMPLE")


def sign(method, url, body=b"", headers=(), service="s3", region="us-east-1",
         access_key=AK, secret=SK, token=None, when=None):
    """A request signed by botocore, the reference client: (method, target, [(name, value)], body)."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
    signer = (botocore.auth.S3SigV4Auth if service == "s3" else botocore.auth.SigV4Auth)(
        Credentials(access_key, secret, token), service, region)
    if when is None:
        signer.add_auth(request)
    else:
        with unittest.mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
            signer.add_auth(request)
    prepared = request.prepare()
    target = url.split("://", 1)[1]
    host, _, rest = target.partition("/")
    header_list = [("Host", host)] + [(k, v) for k, v in prepared.headers.items()]
    return method, "/" + rest, header_list, body


KEYS = parse_credentials(CREDENTIALS)


def now():
    return datetime.datetime.now(datetime.timezone.utc)


@test
def checker_accepts_botocore_signed_requests_with_awkward_paths_and_queries():
    for path in ["/b/dir%20a/b%2Bc%3Dd%26e~f%3A%28g%29.jsonl", "/b/%C3%A9/%E6%97%A5%E6%9C%AC", "/b//x/../y/"]:
        check_request(*sign("GET", f"http://127.0.0.1:1{path}?list-type=2&prefix=a%20b%2Bc%2F&continuation-token=x%2F%2B%3D"),
                      KEYS, now())
        check_request(*sign("POST", f"http://127.0.0.1:1{path}", b"{}", [("X-Amz-Target", "AmazonSSM.GetParameter")],
                            service="ssm"), KEYS, now())


@test
def checker_refuses_like_aws():
    url = "http://127.0.0.1:1/bucket/key%20one"
    _, target, headers, body = sign("PUT", url, b"data")

    def without(name):
        return [(k, v) for k, v in headers if k.lower() != name.lower()]

    def replaced(name, value):
        return without(name) + [(name, value)]

    auth = dict(headers)["Authorization"]
    expect_rejection("AccessDenied", 403, "PUT", target, without("authorization"), body, KEYS, now())
    expect_rejection("MissingAuthenticationTokenException", 403, "POST", "/",
                     [("Host", "h"), ("X-Amz-Target", "AmazonSSM.GetParameter")], b"{}", KEYS, now())
    expect_rejection("AuthorizationHeaderMalformed", 400, "PUT", target,
                     replaced("authorization", auth.replace("Signature=", "Sig=")), body, KEYS, now())
    expect_rejection("AuthorizationHeaderMalformed", 400, "PUT", target,
                     replaced("authorization", auth.replace("host;", "")), body, KEYS, now())
    expect_rejection("AuthorizationHeaderMalformed", 400, "PUT", target,
                     replaced("authorization", auth.replace("host;x-amz-content-sha256", "x-amz-content-sha256;host")),
                     body, KEYS, now())
    expect_rejection("InvalidAccessKeyId", 403, *sign("PUT", url, b"data", access_key="AKIDUNKNOWN"), KEYS, now())
    expect_rejection("SignatureDoesNotMatch", 403, *sign("PUT", url, b"data", secret="wrong"), KEYS, now())
    expect_rejection("XAmzContentSHA256Mismatch", 400, "PUT", target, headers, b"dat4", KEYS, now())
    expect_rejection("InvalidRequest", 400, "PUT", target, without("x-amz-content-sha256"), body, KEYS, now())
    expect_rejection("NotImplemented", 501, "PUT", target,
                     replaced("X-Amz-Content-SHA256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), body, KEYS, now())
    # altered after signing: path (one byte of the encoding), query, a signed header
    expect_rejection("SignatureDoesNotMatch", 403, "PUT", target.replace("%20", "+"), headers, body, KEYS, now())
    expect_rejection("SignatureDoesNotMatch", 403, "PUT", target + "?x=1", headers, body, KEYS, now())
    # a path not in AWS's encoding (raw reserved characters, lower-case hex) fails even when it was
    # signed exactly as sent: S3 verifies against the encoded form
    for sloppy in ["/bucket/a(b)", "/bucket/a*b", "/bucket/a@b", "/bucket/a+b", "/bucket/a%2bb"]:
        rejection = expect_rejection("SignatureDoesNotMatch", 403, *sign("GET", "http://127.0.0.1:1" + sloppy),
                                     KEYS, now())
        assert "is not in AWS's URI encoding" in rejection.message, rejection.message
    expect_rejection("SignatureDoesNotMatch", 403, "PUT", target, replaced("Host", "127.0.0.1:2"), body, KEYS, now())
    # clock skew both ways, for S3 and a JSON service
    for delta in (datetime.timedelta(minutes=16), -datetime.timedelta(minutes=16)):
        expect_rejection("RequestTimeTooSkewed", 403, *sign("PUT", url, b"data", when=now() + delta), KEYS, now())
        expect_rejection("InvalidSignatureException", 400,
                         *sign("POST", "http://127.0.0.1:1/", b"{}", service="ssm", when=now() + delta), KEYS, now())
    check_request(*sign("PUT", url, b"data", when=now() - datetime.timedelta(minutes=14)), KEYS, now())
    # session tokens: required and equal for a temporary key, refused for a long-term one
    check_request(*sign("PUT", url, b"data", access_key=TAK, secret=TSK, token=TOKEN), KEYS, now())
    expect_rejection("InvalidToken", 400, *sign("PUT", url, b"data", access_key=TAK, secret=TSK, token="other"),
                     KEYS, now())
    expect_rejection("InvalidAccessKeyId", 403, *sign("PUT", url, b"data", access_key=TAK, secret=TSK), KEYS, now())
    expect_rejection("InvalidToken", 400, *sign("PUT", url, b"data", token="unexpected"), KEYS, now())
    expect_rejection("UnrecognizedClientException", 403,
                     *sign("POST", "http://127.0.0.1:1/", b"{}", service="ssm", access_key=TAK, secret=TSK,
                           token="other"), KEYS, now())
    # JSON services: the body is covered by the signature
    _, t, h, _ = sign("POST", "http://127.0.0.1:1/", b'{"Name": "a"}', service="ssm")
    rejection = expect_rejection("InvalidSignatureException", 400, "POST", t, h, b'{"Name": "b"}', KEYS, now())
    assert rejection.shape == "json"
    # the canonical request shown back never carries the session token
    _, t, h, b = sign("GET", url, access_key=TAK, secret=TSK, token=TOKEN)
    rejection = expect_rejection("SignatureDoesNotMatch", 403, "GET", t + "?tampered", h, b, KEYS, now())
    assert TOKEN not in json.dumps(rejection.extra) and "<redacted>" in rejection.extra["CanonicalRequest"]


# --- 2. The proxy in front of moto -----------------------------------------------------------

class Servers:
    def __init__(self):
        self.processes = []
        self.log = tempfile.NamedTemporaryFile(prefix="sigv4-proxy-", suffix=".log", delete=False)
        self.moto = self.start("moto_server.py", [], subprocess.DEVNULL)
        self.proxy = self.start("sigv4_proxy.py", ["--upstream", self.moto, "--credentials", CREDENTIALS], self.log)

    def start(self, script, arguments, stderr):
        process = subprocess.Popen(
            [sys.executable, "-u", os.path.join(HERE, script), "--host", "127.0.0.1", "--port", "0",
             "--parent-pid", str(os.getpid())] + arguments,
            stdout=subprocess.PIPE, stderr=stderr, text=True)
        self.processes.append(process)
        timer = threading.Timer(60, process.kill)
        timer.start()
        line = process.stdout.readline().strip()
        timer.cancel()
        if not line.startswith("listening on "):
            raise RuntimeError(f"{script} did not start: first line was {line!r}")
        threading.Thread(target=process.stdout.read, daemon=True).start()
        return "http://" + line[len("listening on "):]

    def stop(self):
        for process in self.processes:
            process.terminate()
            process.wait(10)
        os.unlink(self.log.name)

    def stats(self):
        with urllib.request.urlopen(self.proxy + "/__proxy/stats") as response:
            return json.load(response)

    def reset_stats(self):
        urllib.request.urlopen(urllib.request.Request(self.proxy + "/__proxy/reset", method="POST")).close()


SERVERS = None


def s3_client(access_key=AK, secret=SK, token=None, region="eu-west-1"):
    return boto3.client("s3", endpoint_url=SERVERS.proxy, region_name=region, aws_access_key_id=access_key,
                        aws_secret_access_key=secret, aws_session_token=token,
                        config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                                      response_checksum_validation="when_required", retries={"max_attempts": 1}))


def ssm_client(access_key=AK, secret=SK, token=None, region="us-east-1"):
    return boto3.client("ssm", endpoint_url=SERVERS.proxy, region_name=region, aws_access_key_id=access_key,
                        aws_secret_access_key=secret, aws_session_token=token,
                        config=Config(retries={"max_attempts": 1}))


def error_code(call):
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"]
    raise AssertionError("the call succeeded")


class Counting:
    """Asserts that exactly the requests made inside the block were checked, and how they ended."""

    def __init__(self, accepted=None, rejected=0):
        self.accepted, self.rejected = accepted, rejected

    def __enter__(self):
        SERVERS.reset_stats()

    def __exit__(self, kind, value, tb):
        if kind:
            return False
        stats = SERVERS.stats()
        assert stats["checked"] == stats["accepted"] + stats["rejected"], stats
        assert stats["rejected"] == self.rejected, stats
        if self.accepted is not None:
            assert stats["accepted"] == self.accepted, stats
        else:
            assert stats["accepted"] > 0, stats
        return False


@test
def s3_awkward_keys_round_trip_through_the_check():
    s3 = s3_client()
    with Counting():
        s3.create_bucket(Bucket="awkward", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        for key in AWKWARD_KEYS:
            s3.put_object(Bucket="awkward", Key=key, Body=key.encode(), ContentType="text/plain")
        for key in AWKWARD_KEYS:
            assert s3.get_object(Bucket="awkward", Key=key)["Body"].read() == key.encode(), key
            assert s3.head_object(Bucket="awkward", Key=key)["ContentLength"] == len(key.encode()), key
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket="awkward")["Contents"]]
        assert sorted(listed) == sorted(AWKWARD_KEYS), listed
        # `plus+sign` and `plus sign` are two objects: the `+` went as %2B, untouched
        assert s3.get_object(Bucket="awkward", Key="plus sign")["Body"].read() == b"plus sign"
        page = s3.list_objects_v2(Bucket="awkward", Prefix="dir a/", Delimiter="/")
        assert [o["Key"] for o in page["Contents"]] == ["dir a/b+c=d&e~f:(g).jsonl"], page
        page = s3.list_objects_v2(Bucket="awkward", Prefix="é/", Delimiter="/")
        assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["é/日本/"], page
        # paging: continuation tokens carry `/+=` and must survive the query canonicalisation
        seen, token, pages = [], None, 0
        while True:
            kwargs = {"ContinuationToken": token} if token else {}
            page = s3.list_objects_v2(Bucket="awkward", MaxKeys=3, **kwargs)
            seen += [o["Key"] for o in page.get("Contents", [])]
            pages += 1
            if not page["IsTruncated"]:
                break
            token = page["NextContinuationToken"]
        assert sorted(seen) == sorted(AWKWARD_KEYS) and pages == 3, (seen, pages)
        assert error_code(lambda: s3.get_object(Bucket="awkward", Key="missing key")) == "NoSuchKey"
        assert error_code(lambda: s3.head_object(Bucket="awkward", Key="missing key")) == "404"
        for key in AWKWARD_KEYS:
            s3.delete_object(Bucket="awkward", Key=key)
        assert s3.list_objects_v2(Bucket="awkward")["KeyCount"] == 0


@test
def s3_conditional_put_and_multipart_upload():
    s3 = s3_client()
    with Counting():
        s3.create_bucket(Bucket="multipart", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_object(Bucket="multipart", Key="once", Body=b"1", ContentType="text/plain", IfNoneMatch="*")
        assert error_code(lambda: s3.put_object(Bucket="multipart", Key="once", Body=b"2", IfNoneMatch="*",
                                                ContentType="text/plain")) == "PreconditionFailed"
        key = "big (multi)/part+file é.bin"
        parts = [os.urandom(5 * 1024 * 1024), b"tail bytes"]
        upload = s3.create_multipart_upload(Bucket="multipart", Key=key, ContentType="application/octet-stream")
        etags = [s3.upload_part(Bucket="multipart", Key=key, UploadId=upload["UploadId"], PartNumber=n + 1,
                                Body=data)["ETag"] for n, data in enumerate(parts)]
        s3.complete_multipart_upload(Bucket="multipart", Key=key, UploadId=upload["UploadId"], MultipartUpload={
            "Parts": [{"PartNumber": n + 1, "ETag": etag} for n, etag in enumerate(etags)]})
        assert s3.get_object(Bucket="multipart", Key=key)["Body"].read() == b"".join(parts)
        aborted = s3.create_multipart_upload(Bucket="multipart", Key="abandoned")
        s3.abort_multipart_upload(Bucket="multipart", Key="abandoned", UploadId=aborted["UploadId"])


@test
def ssm_parameters_through_the_check():
    ssm = ssm_client()
    with Counting():
        ssm.put_parameter(Name="/conveyor/test/plain", Value="hello", Type="String")
        ssm.put_parameter(Name="/conveyor/test/secret", Value="s3cr3t value", Type="SecureString")
        assert ssm.get_parameter(Name="/conveyor/test/plain")["Parameter"]["Value"] == "hello"
        assert ssm.get_parameter(Name="/conveyor/test/secret", WithDecryption=True)["Parameter"]["Value"] == "s3cr3t value"
        found = ssm.get_parameters_by_path(Path="/conveyor/test", Recursive=True)["Parameters"]
        assert sorted(p["Name"] for p in found) == ["/conveyor/test/plain", "/conveyor/test/secret"], found
        assert error_code(lambda: ssm.get_parameter(Name="/conveyor/missing")) == "ParameterNotFound"


@test
def session_token_key_works_and_a_wrong_token_is_refused():
    with Counting(accepted=2):
        s3_client(TAK, TSK, TOKEN).list_buckets()
        ssm_client(TAK, TSK, TOKEN).describe_parameters()
    with Counting(accepted=0, rejected=3):
        assert error_code(lambda: s3_client(TAK, TSK, "forged").list_buckets()) == "InvalidToken"
        assert error_code(lambda: s3_client(TAK, TSK).list_buckets()) == "InvalidAccessKeyId"
        assert error_code(lambda: ssm_client(TAK, TSK, "forged").describe_parameters()) == "UnrecognizedClientException"


@test
def wrong_secret_and_unknown_key_are_refused():
    with Counting(accepted=0, rejected=5):
        assert error_code(lambda: s3_client(secret="not-the-secret").list_buckets()) == "SignatureDoesNotMatch"
        assert error_code(lambda: s3_client(secret="not-the-secret").get_object(Bucket="awkward", Key="x y")) \
            == "SignatureDoesNotMatch"
        assert error_code(lambda: ssm_client(secret="not-the-secret").get_parameter(Name="/a")) \
            == "InvalidSignatureException"
        assert error_code(lambda: s3_client("AKIDNOBODY").list_buckets()) == "InvalidAccessKeyId"
        assert error_code(lambda: ssm_client("AKIDNOBODY").get_parameter(Name="/a")) == "UnrecognizedClientException"


def send(connection, method, target, headers, body=b""):
    """Sends exactly these bytes (no Host or Accept-Encoding added) and returns (status, headers, body)."""
    connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    for name, value in headers:
        connection.putheader(name, value)
    connection.endheaders(body or None)
    response = connection.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def proxy_connection():
    host, port = SERVERS.proxy[len("http://"):].split(":")
    return http.client.HTTPConnection(host, int(port), timeout=30)


@test
def tampered_requests_are_refused_with_aws_error_bodies():
    url = SERVERS.proxy + "/awkward/tamper%20me.txt"
    s3_client().put_object(Bucket="awkward", Key="tamper me.txt", Body=b"original", ContentType="text/plain")
    connection = proxy_connection()
    with Counting(accepted=0, rejected=5):
        _, target, headers, body = sign("PUT", url, b"signed body", [("Content-Type", "text/plain")])
        status, _, reply = send(connection, "PUT", target, headers, b"other body!")
        assert status == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in reply, reply
        status, reply_headers, reply = send(connection, "PUT", "/awkward/tamper%20me%21.txt", headers, body)
        assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in reply, reply
        assert b"<CanonicalRequest>PUT\n/awkward/tamper%20me%21.txt\n" in reply and b"<StringToSign>" in reply, reply
        assert reply_headers["content-type"] == "application/xml"
        status, _, reply = send(connection, "PUT", target + "?acl", headers, body)
        assert status == 403 and b"SignatureDoesNotMatch" in reply, reply
        _, target, headers, body = sign("POST", SERVERS.proxy + "/", b'{"Name": "/a"}',
                                     [("X-Amz-Target", "AmazonSSM.GetParameter"),
                                      ("Content-Type", "application/x-amz-json-1.1")], service="ssm")
        status, reply_headers, reply = send(connection, "POST", "/", headers, b'{"Name": "/b"}')
        assert status == 400 and json.loads(reply)["__type"] == "InvalidSignatureException", reply
        assert reply_headers["x-amzn-errortype"] == "InvalidSignatureException", reply_headers
        status, _, reply = send(connection, *sign("GET", url, when=now() - datetime.timedelta(hours=1)))
        assert status == 403 and b"<Code>RequestTimeTooSkewed</Code>" in reply, reply
    assert s3_client().get_object(Bucket="awkward", Key="tamper me.txt")["Body"].read() == b"original"


@test
def keep_alive_head_expect_continue_and_chunked_bodies():
    url = SERVERS.proxy + "/awkward/conn%20test"
    connection = proxy_connection()
    with Counting(accepted=6, rejected=1):
        status, _, _ = send(connection, *sign("PUT", url, b"x" * 2000, [("Content-Type", "text/plain"),
                                                                              ("Expect", "100-continue")]))
        assert status == 200, status
        socket = connection.sock
        status, headers, reply = send(connection, *sign("HEAD", url))
        assert (status, headers["content-length"], reply) == (200, "2000", b""), (status, headers)
        status, headers, reply = send(connection, *sign("GET", url))
        assert (status, reply) == (200, b"x" * 2000), status
        status, _, reply = send(connection, *sign("GET", url, secret="wrong"))
        assert status == 403
        status, _, reply = send(connection, *sign("HEAD", SERVERS.proxy + "/awkward/none"))
        assert (status, reply) == (404, b""), status
        _, target, headers, body = sign("PUT", SERVERS.proxy + "/awkward/chunked", b"hello chunked world",
                                     [("Content-Type", "text/plain")])
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"] + [("Transfer-Encoding", "chunked")]
        status, _, _ = send(connection, "PUT", target, headers, b"5\r\nhello\r\ne\r\n chunked world\r\n0\r\n\r\n")
        assert status == 200, status
        status, _, reply = send(connection, *sign("GET", SERVERS.proxy + "/awkward/chunked"))
        assert (status, reply) == (200, b"hello chunked world"), (status, reply)
        assert connection.sock is socket, "the proxy closed a keep-alive connection"


@test
def accepted_requests_are_listed_with_their_operation_facts():
    SERVERS.reset_stats()
    s3 = s3_client()
    s3.create_bucket(Bucket="listed", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="listed", Key="a b/c.txt", Body=b"x", ContentType="text/plain")
    s3.list_objects_v2(Bucket="listed", Prefix="a b/")
    ssm_client().put_parameter(Name="/conveyor/listed", Value="not in the list", Type="SecureString")
    assert error_code(lambda: s3_client(secret="wrong").get_object(Bucket="listed", Key="a b/c.txt")) \
        == "SignatureDoesNotMatch"
    with urllib.request.urlopen(SERVERS.proxy + "/__proxy/requests") as response:
        requests = json.load(response)["requests"]
    assert [(r["service"], r["method"]) for r in requests] == [("s3", "PUT"), ("s3", "PUT"), ("s3", "GET"),
                                                              ("ssm", "POST")], requests
    assert requests[1]["path"] == "/listed/a%20b/c.txt" and requests[1]["region"] == "eu-west-1", requests[1]
    assert "list-type=2" in requests[2]["query"] and "prefix=a%20b%2F" in requests[2]["query"], requests[2]
    assert requests[3]["target"] == "AmazonSSM.PutParameter" and requests[3]["names"] == ["/conveyor/listed"]
    assert "not in the list" not in json.dumps(requests)
    SERVERS.reset_stats()
    with urllib.request.urlopen(SERVERS.proxy + "/__proxy/requests") as response:
        assert json.load(response)["requests"] == []


@test
def control_endpoints_and_moto_api_are_not_counted():
    SERVERS.reset_stats()
    with urllib.request.urlopen(urllib.request.Request(SERVERS.proxy + "/moto-api/reset", method="POST")) as response:
        assert response.status == 200
    stats = SERVERS.stats()
    assert (stats["checked"], stats["accepted"], stats["rejected"]) == (0, 0, 0), stats
    assert error_code(lambda: s3_client().head_bucket(Bucket="awkward")) == "404"  # moto was emptied


@test
def expired_keys_get_the_services_expired_token_answer():
    # Rules only accumulate: the temporary key stays expired for the rest of this run, so this
    # test comes after every other test that uses it.
    request = urllib.request.Request(SERVERS.proxy + "/__proxy/rules", method="POST",
                                     data=json.dumps({"expiredKeys": [TAK]}).encode())
    urllib.request.urlopen(request).close()
    with Counting(accepted=2):
        assert error_code(lambda: s3_client(TAK, TSK, TOKEN).list_buckets()) == "ExpiredToken"
        assert error_code(lambda: ssm_client(TAK, TSK, TOKEN).get_parameter(Name="/x")) == "ExpiredTokenException"
    stats = SERVERS.stats()
    assert stats["expired_answers"] == 2 and stats["accepted_by_key"] == {TAK: 2}, stats
    with Counting(accepted=1):
        s3_client().list_buckets()  # other keys are not affected


@test
def the_log_holds_no_secret():
    with open(SERVERS.log.name, encoding="utf-8", errors="replace") as handle:
        log = handle.read()
    assert "accepted" in log and "rejected" in log, log[:2000]
    for secret in (SK, TSK, TOKEN, "Signature=", "forged", "s3cr3t value"):
        assert secret not in log, f"the proxy log contains {secret!r}"


def main(selection):
    global SERVERS
    chosen = [t for t in TESTS if not selection or any(s in t.__name__ for s in selection)]
    passed = failed = 0
    try:
        SERVERS = Servers()
        for function in chosen:
            try:
                function()
            except Exception:
                failed += 1
                print(f"FAIL {function.__name__}\n{traceback.format_exc()}", flush=True)
            else:
                passed += 1
                print(f"ok   {function.__name__}", flush=True)
    finally:
        if SERVERS:
            SERVERS.stop()
    print(f"selftest: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
