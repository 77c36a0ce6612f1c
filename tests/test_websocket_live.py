"""The whole real-time path over real sockets (issue 14): `make run`'s server (gunicorn, two
uvicorn workers on socialsite.asgi) on the test database, its channel layer a real server (the
embedded Valkey, or CI's Redis), and the `websockets` client library as an app would use it:
authentication, ping, the origin rule, a push from another process, and a revocation over HTTP
closing the sockets on both workers within 2 s."""

import asyncio
import json
import time

import pytest
import websockets
from django.db import connection

from socialsite import realtime
from tests.live import closed_code, get, login, post, serving

pytestmark = pytest.mark.django_db(transaction=True)
ALICE = "alice@example.com"


@pytest.fixture
def live(real_channel_layer):
    """The port of a gunicorn as `make run` starts it, sharing this test's channel layer."""
    with serving(*real_channel_layer) as process:
        yield process.port


def test_healthz_names_the_channel_layer(user, live):
    assert get(live, "/healthz") == (
        200,
        {"status": 0, "msg": "ok", "db": "ok", "cache": "ok", "channels": "ok"},
    )


def test_a_session_over_real_sockets(user, live):
    """Two sockets (likely on both workers) by header and by first frame; a push from another
    process reaches both; /logout all=1 over HTTP closes both within 2 s."""
    header_token, frame_token = login(live, ALICE), login(live, ALICE)
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
    token = login(live, ALICE)

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


def test_the_server_reads_no_frame_over_16_kib(user, live):
    """uvicorn itself refuses a larger frame (its default would buffer 16 MiB on every socket);
    one of exactly 16 KiB reaches the consumer, which answers it. No compression is agreed."""
    from accounts.consumers import MAX_FRAME_BYTES
    from socialsite.gunicorn_config import WEBSOCKET_MAX_FRAME_BYTES

    assert WEBSOCKET_MAX_FRAME_BYTES == MAX_FRAME_BYTES == 16 * 1024
    token = login(live, ALICE)

    async def scenario():
        ws = await websockets.connect(
            f"ws://127.0.0.1:{live}/ws",
            additional_headers={"Authorization": f"Bearer {token}"},
        )
        # The client offered permessage-deflate (its default); the server declines it.
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        assert json.loads(await ws.recv())["type"] == "ready"
        await ws.send("x" * MAX_FRAME_BYTES)
        assert json.loads(await ws.recv())["type"] == "error"
        await ws.send("x" * (MAX_FRAME_BYTES + 1))
        async with asyncio.timeout(2):
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
        # uvicorn's own close (the consumer's has no reason): the frame was never buffered whole.
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            1009,
            f"frame with {MAX_FRAME_BYTES + 1} bytes exceeds limit of {MAX_FRAME_BYTES} bytes",
        )

    asyncio.run(scenario())
