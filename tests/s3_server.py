"""A real S3 API on 127.0.0.1 for tests: moto's server, with credentials checked.

moto checks credentials only after ``INITIAL_NO_AUTH_ACTION_COUNT`` actions: the first four create an IAM
user allowed ``s3:*``, its access key and the bucket; every request after them must be signed with that key.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3

SETUP_ACTIONS = 4
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class S3Server:
    def __init__(self, bucket: str = "margins-lake") -> None:
        self.bucket = bucket
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.key_id = ""
        self.secret = ""

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> S3Server:
        moto_server = Path(sys.executable).with_name("moto_server")
        env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(SETUP_ACTIONS)}
        self.process = subprocess.Popen([str(moto_server), "-H", "127.0.0.1", "-p", str(self.port)], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_until_listening()
        self._set_up()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _wait_until_listening(self, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.process.returncode}")
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"moto_server not listening on {self.endpoint} after {timeout_s} s")

    def _set_up(self) -> None:
        """The SETUP_ACTIONS unauthenticated actions: a user allowed s3:*, its key, the bucket."""
        iam = self._client("iam", "setup", "setup")
        iam.create_user(UserName="publisher")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="publisher", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="publisher")["AccessKey"]
        self.key_id, self.secret = key["AccessKeyId"], key["SecretAccessKey"]
        self.s3().create_bucket(Bucket=self.bucket)

    def _client(self, service: str, key_id: str, secret: str):
        return boto3.client(service, endpoint_url=f"http://{self.endpoint}", region_name=REGION,
                            aws_access_key_id=key_id, aws_secret_access_key=secret)

    def s3(self):
        return self._client("s3", self.key_id, self.secret)

    def objects(self, prefix: str) -> dict[str, int]:
        """Key -> size of every object under the prefix."""
        found: dict[str, int] = {}
        for page in self.s3().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            found.update({item["Key"]: item["Size"] for item in page.get("Contents", [])})
        return found

    def lake_env(self, catalog: Path, prefix: str, secret: str | None = None) -> dict[str, str]:
        """The environment of a publisher or reader of a lake at s3://<bucket>/<prefix>/ on this server."""
        return {
            "MARGINS_LAKE_CATALOG": f"sqlite:{catalog}",
            "MARGINS_LAKE_DATA_PATH": f"s3://{self.bucket}/{prefix}/",
            "MARGINS_S3_ENDPOINT": self.endpoint,
            "MARGINS_S3_USE_SSL": "false",
            "AWS_ACCESS_KEY_ID": self.key_id,
            "AWS_SECRET_ACCESS_KEY": secret or self.secret,
            "AWS_REGION": REGION,
        }
