"""The whole real-time path over real sockets (issue 14): `make run`'s server (gunicorn, two
uvicorn workers on socialsite.asgi) on the test database, its channel layer a real server (the
embedded Valkey, or CI's Redis), and the `websockets` client library as an app would use it:
authentication, ping, the origin rule, a push from another process, and a revocation over HTTP
closing the sockets on both workers within 2 s."""

import asyncio
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

from socialsite import realtime
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)
ALICE = "alice@example.com"


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


@pytest.fixture
def live(real_channel_layer):
    """The port of a gunicorn as `make run` starts it, sharing this test's channel layer."""
    url, prefix = real_channel_layer
    port = free_port()
    environment = {
        **{name: value for name, value in os.environ.items() if name != "DATABASE_REPLICA_URLS"},
        # The tests' settings: their password hasher made the users' passwords.
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "off",
        "SERVER": "asgi",
        "DATABASE_URL": database_url(),
        "CHANNEL_LAYER_URL": url,
        "CHANNEL_LAYER_PREFIX": prefix,
        "EMAIL_URL": "dummymail://",
    }
    command = [sys.executable, "-m", "gunicorn", "--config", "python:socialsite.gunicorn_config"]
    command += ["--workers", "2", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=environment)
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
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def get(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
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


def login(port):
    answer = post(port, "/login", {"email": ALICE, "pass": PASSWORD})
    assert answer["status"] == 1002
    return answer["data"]["token"]


async def closed_code(ws, within):
    """The close code of `ws`, which must close within `within` seconds (any frame before: fail)."""
    async with asyncio.timeout(within):
        with pytest.raises(websockets.ConnectionClosed) as closed:
            frame = await ws.recv()
            pytest.fail(f"a frame arrived instead of the close: {frame}")
    return closed.value.rcvd.code


def test_healthz_names_the_channel_layer(user, live):
    assert get(live, "/healthz") == (
        200,
        {"status": 0, "msg": "ok", "db": "ok", "cache": "ok", "channels": "ok"},
    )


def test_a_session_over_real_sockets(user, live):
    """Two sockets (likely on both workers) by header and by first frame; a push from another
    process reaches both; /logout all=1 over HTTP closes both within 2 s."""
    header_token, frame_token = login(live), login(live)
    ws_url = f"ws://127.0.0.1:{live}/ws"
    frame = {"type": "notice", "data": {"id": 7, "text": "你好"}}

    async def scenario():
        by_header = await websockets.connect(
            ws_url, additional_headers={"Authorization": f"Bearer {header_token}"}
        )
        by_frame = await websockets.connect(ws_url, origin=f"http://127.0.0.1:{live}")
        await by_frame.send(json.dumps({"type": "auth", "token": frame_token}))
        for ws in (by_header, by_frame):
            assert json.loads(await ws.recv()) == {"type": "ready", "email": ALICE}
            await ws.send('{"type": "ping"}')
            assert json.loads(await ws.recv()) == {"type": "pong"}
        await asyncio.to_thread(realtime.send_now, [user.pk], frame)
        for ws in (by_header, by_frame):
            assert json.loads(await ws.recv()) == frame
        started = time.monotonic()
        answer = await asyncio.to_thread(post, live, "/logout", {"all": "1"}, header_token)
        assert answer["status"] == 1012
        for ws in (by_header, by_frame):
            assert await closed_code(ws, within=2) == 4401
        assert time.monotonic() - started < 2

    asyncio.run(scenario())


def test_a_bad_token_closes_4401_and_a_foreign_origin_gets_403(user, live):
    ws_url = f"ws://127.0.0.1:{live}/ws"

    async def scenario():
        ws = await websockets.connect(ws_url)
        await ws.send(json.dumps({"type": "auth", "token": "not-a-token"}))
        assert await closed_code(ws, within=2) == 4401
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(ws_url, origin="https://evil.example")
        assert refused.value.response.status_code == 403

    asyncio.run(scenario())


def test_a_deactivation_closes_4402(user, live):
    token = login(live)

    async def scenario():
        ws = await websockets.connect(
            f"ws://127.0.0.1:{live}/ws", additional_headers={"Authorization": f"Bearer {token}"}
        )
        assert json.loads(await ws.recv())["type"] == "ready"
        from accounts import services
        from accounts.models import User

        def deactivate():
            try:
                services.deactivate_users(User.objects.filter(pk=user.pk))
            finally:
                connection.close()  # this thread's own, which would outlive the test database

        await asyncio.to_thread(deactivate)
        assert await closed_code(ws, within=2) == 4402

    asyncio.run(scenario())
