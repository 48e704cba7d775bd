"""Create the private artifact bucket if it is missing (idempotent).

Runs in the tracking-server image (python + boto3). Env: BUCKET, MLFLOW_S3_ENDPOINT_URL
(empty for AWS), AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or another boto3 credential
source), AWS_DEFAULT_REGION (optional), WAIT_SECONDS (how long to wait for the endpoint).
New buckets are private (no ACL grants, no bucket policy); an existing bucket is left as is.
"""

import os
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

MISSING = {"404", "NoSuchBucket", "NotFound"}


def main() -> int:
    bucket = os.environ["BUCKET"]
    endpoint = os.environ.get("MLFLOW_S3_ENDPOINT_URL") or None
    region = os.environ.get("AWS_DEFAULT_REGION") or None
    deadline = time.monotonic() + float(os.environ.get("WAIT_SECONDS", "300"))
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        config=Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 2}),
    )
    where = endpoint or "AWS S3"
    while True:
        try:
            s3.head_bucket(Bucket=bucket)
            print(f"create-bucket: s3://{bucket} already exists at {where}")
            return 0
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code"))
            if code not in MISSING:
                print(f"create-bucket: cannot use s3://{bucket} at {where}: {code} {err}", file=sys.stderr)
                return 1
        except (EndpointConnectionError, BotoCoreError) as err:
            if time.monotonic() > deadline:
                print(f"create-bucket: {where} unreachable: {err}", file=sys.stderr)
                return 1
            print(f"create-bucket: waiting for {where}: {err}")
            time.sleep(3)
            continue
        kwargs = {"Bucket": bucket}
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            s3.create_bucket(**kwargs)
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code"))
            if code != "BucketAlreadyOwnedByYou":
                print(f"create-bucket: creating s3://{bucket} at {where} failed: {code} {err}", file=sys.stderr)
                return 1
        print(f"create-bucket: created private bucket s3://{bucket} at {where}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
