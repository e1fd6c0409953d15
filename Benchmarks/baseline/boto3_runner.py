"""The peer Conveyor is measured against: the pattern a team writes without it, in boto3.

For every object under s3://BUCKET/INPUT_PREFIX: GET it, call Converse with it in a prompt
(maxTokens), PUT the response JSON to s3://BUCKET/OUTPUT_PREFIX/NAME.json, on a
ThreadPoolExecutor(max_workers=concurrency). Both clients use botocore's adaptive retry mode
(max_attempts 3): a call still throttled after those retries is a failure, like any other error.

Prints one JSON line: items, succeeded, failed, wall seconds, CPU seconds (user + sys of this
process, resource.getrusage) and peak RSS in KiB.

Usage: python3 boto3_runner.py --s3-endpoint URL --bedrock-endpoint URL --bucket B
           --input-prefix in/ --output-prefix out/run1/ [--concurrency 32] [--max-tokens 64]
"""
import argparse
import json
import os
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor

os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ.setdefault("AWS_CONFIG_FILE", "/dev/null")
os.environ.setdefault("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--s3-endpoint", required=True)
    p.add_argument("--bedrock-endpoint", required=True)
    p.add_argument("--bucket", required=True)
    p.add_argument("--input-prefix", required=True)
    p.add_argument("--output-prefix", required=True)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--model", default=MODEL)
    args = p.parse_args()

    start = time.monotonic()
    common = dict(region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench")
    retry_config = dict(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3, "mode": "adaptive"},
                        max_pool_connections=max(10, args.concurrency))
    s3 = boto3.client("s3", endpoint_url=args.s3_endpoint,
                      config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                                    response_checksum_validation="when_required", **retry_config), **common)
    bedrock = boto3.client("bedrock-runtime", endpoint_url=args.bedrock_endpoint, config=Config(**retry_config),
                           **common)

    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=args.bucket, Prefix=args.input_prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]

    def one(key):
        body = s3.get_object(Bucket=args.bucket, Key=key)["Body"].read().decode("utf-8")
        response = bedrock.converse(
            modelId=args.model,
            messages=[{"role": "user", "content": [{"text": f"Summarise: {body}"}]}],
            inferenceConfig={"maxTokens": args.max_tokens},
        )
        response.pop("ResponseMetadata", None)
        name = key.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        s3.put_object(Bucket=args.bucket, Key=f"{args.output_prefix}{name}.json",
                      Body=json.dumps(response, default=str).encode(), ContentType="application/json")

    succeeded = failed = 0
    errors = {}
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        futures = [pool.submit(one, k) for k in keys]
        for f in futures:
            try:
                f.result()
                succeeded += 1
            except Exception as e:  # noqa: BLE001 - every failure counts the same
                failed += 1
                name = type(e).__name__
                code = getattr(e, "response", {}).get("Error", {}).get("Code") if hasattr(e, "response") else None
                errors[code or name] = errors.get(code or name, 0) + 1
    wall = time.monotonic() - start
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"items": len(keys), "succeeded": succeeded, "failed": failed, "errors": errors,
                      "wall_s": round(wall, 3), "cpu_s": round(ru.ru_utime + ru.ru_stime, 3),
                      "peak_rss_kib": ru.ru_maxrss}))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
