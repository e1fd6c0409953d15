"""Drives the Converse emulator with boto3's own bedrock-runtime client (no code shared with
Conveyor): a signed call gets an answer, a wrongly signed one is refused, and a throttled one
raises boto3's modelled ThrottlingException. Exits 0 when all three hold; prints what failed."""
import argparse
import os
import sys

os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ.pop("AWS_PROFILE", None)
os.environ["AWS_CONFIG_FILE"] = "/dev/null"
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402


def client(url, key, secret):
    return boto3.client(
        "bedrock-runtime", region_name="us-east-1", endpoint_url=url,
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--access-key", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--throttle-after", type=int, default=2,
                        help="the emulator's request quota: calls beyond it must be throttled")
    args = parser.parse_args()
    failures = []

    good = client(args.url, args.access_key, args.secret_key)
    model = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
    answer = good.converse(modelId=model,
                           messages=[{"role": "user", "content": [{"text": "hello from boto3"}]}],
                           inferenceConfig={"maxTokens": 50})
    text = answer["output"]["message"]["content"][0]["text"]
    if text != "Echo: hello from boto3":
        failures.append(f"unexpected answer text {text!r}")
    if answer["stopReason"] != "end_turn" or answer["usage"]["totalTokens"] <= 0:
        failures.append(f"unexpected stopReason or usage {answer['stopReason']} {answer['usage']}")
    if "latencyMs" not in answer["metrics"]:
        failures.append("metrics.latencyMs missing")

    bad = client(args.url, args.access_key, "not-the-secret")
    try:
        bad.converse(modelId=model, messages=[{"role": "user", "content": [{"text": "x"}]}])
        failures.append("a wrongly signed call was answered")
    except bad.exceptions.ClientError as error:
        code = error.response["Error"]["Code"]
        if code != "InvalidSignatureException" or error.response["ResponseMetadata"]["HTTPStatusCode"] != 403:
            failures.append(f"bad signature gave {code} {error.response['ResponseMetadata']['HTTPStatusCode']}")

    throttled = None
    for _ in range(args.throttle_after + 3):
        try:
            good.converse(modelId=model, messages=[{"role": "user", "content": [{"text": "again"}]}],
                          inferenceConfig={"maxTokens": 5})
        except good.exceptions.ThrottlingException as error:
            throttled = error
            break
    if throttled is None:
        failures.append("no ThrottlingException past the quota")
    elif "Too many requests" not in throttled.response["Error"]["Message"]:
        failures.append(f"unexpected throttling message {throttled.response['Error']['Message']!r}")

    if failures:
        for failure in failures:
            print("FAIL:", failure)
        sys.exit(1)
    print("boto3 checks passed")


if __name__ == "__main__":
    main()
