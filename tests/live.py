"""The site as `make run` serves it, for the tests that need real sockets: gunicorn with uvicorn
workers on socialsite.asgi, on this test's database, its channel layer a real server; and the
small HTTP and WebSocket helpers those tests share."""

import asyncio
import contextlib
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.parse

import pytest
import websockets
from django.conf import settings
from django.db import connection

from tests.factories import PASSWORD


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url():
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextlib.contextmanager
def serving(layer_url, layer_prefix, *, workers=2, extra_env=None):
    """Run gunicorn as `make run` does until the block ends; yields its process (the master:
    its workers are its children) once /healthz answers 200. Its port is `process.port`."""
    port = free_port()
    environment = {
        **{name: value for name, value in os.environ.items() if name != "DATABASE_REPLICA_URLS"},
        # The tests' settings: their password hasher made the users' passwords.
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "off",
        "SERVER": "asgi",
        "DATABASE_URL": database_url(),
        "CHANNEL_LAYER_URL": layer_url,
        "CHANNEL_LAYER_PREFIX": layer_prefix,
        "EMAIL_URL": "dummymail://",
        **(extra_env or {}),
    }
    command = [sys.executable, "-m", "gunicorn", "--config", "python:socialsite.gunicorn_config"]
    command += ["--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=environment)
    process.port = port
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
            try:
                if get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def worker_pids(process):
    """The pids of gunicorn's workers (the master's children)."""
    children = set()
    for task in os.listdir(f"/proc/{process.pid}/task"):
        with open(f"/proc/{process.pid}/task/{task}/children") as listing:
            children.update(int(pid) for pid in listing.read().split())
    return sorted(children)


def get(port, path, token=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def post(port, path, data, token=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request("POST", path, urllib.parse.urlencode(data), headers)
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def login(port, email):
    answer = post(port, "/login", {"email": email, "pass": PASSWORD})
    assert answer["status"] == 1002
    return answer["data"]["token"]


async def closed_code(ws, within):
    """The close code of `ws`, which must close within `within` seconds (any frame before: fail)."""
    async with asyncio.timeout(within):
        with pytest.raises(websockets.ConnectionClosed) as closed:
            frame = await ws.recv()
            pytest.fail(f"a frame arrived instead of the close: {frame}")
    return closed.value.rcvd.code
