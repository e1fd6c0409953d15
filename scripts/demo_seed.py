"""Creates the demo bucket in the local S3 (moto) and uploads examples/tickets into it; with
--latest-report, prints the URI of the newest demo report instead."""
import argparse
import os
import pathlib
import sys

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", default="conveyor-demo")
    parser.add_argument("--latest-report", action="store_true")
    args = parser.parse_args()
    s3 = boto3.client("s3", endpoint_url=args.endpoint, region_name="us-east-1",
                      aws_access_key_id="demo", aws_secret_access_key="demo",
                      config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required",
                                    response_checksum_validation="when_required"))
    if args.latest_report:
        reports = s3.list_objects_v2(Bucket=args.bucket, Prefix="reports/").get("Contents", [])
        reports = [r for r in reports if r["Key"].endswith(".json")]
        if not reports:
            sys.exit("no report found")
        newest = max(reports, key=lambda r: r["LastModified"])
        print(f"s3://{args.bucket}/{newest['Key']}")
        return
    s3.create_bucket(Bucket=args.bucket)
    root = pathlib.Path(__file__).resolve().parent.parent / "examples" / "tickets"
    count = 0
    for path in sorted(root.glob("*.txt")):
        s3.put_object(Bucket=args.bucket, Key=f"tickets/{path.name}", Body=path.read_bytes(), ContentType="text/plain")
        count += 1
    print(f"seeded s3://{args.bucket}/tickets/ with {count} tickets")


if __name__ == "__main__":
    main()
