"""socialsite.realtime's sends from sync code outside the ASGI server's loop (a WSGI worker, the
test client, a command): one sending loop per process, not a new loop (and, with Redis, a new
connection) for every push; inside a sync view of the ASGI server, that server's loop."""

import asyncio

from asgiref.sync import async_to_sync, sync_to_async

from socialsite import realtime


class RecordingLayer:
    """A channel layer that records the event loop each group send runs on."""

    def __init__(self):
        self.sends = []

    async def group_send(self, group, message):
        self.sends.append((group, message["frame"]["n"], asyncio.get_running_loop()))


def test_pushes_from_sync_code_share_one_sending_loop(monkeypatch):
    layer = RecordingLayer()
    monkeypatch.setattr(realtime, "get_channel_layer", lambda: layer)
    for n in range(3):
        realtime.send_now([7, 8], {"type": "test", "n": n})
    assert [(group, n) for group, n, _ in layer.sends] == [
        (group, n) for n in range(3) for group in ("user.7", "user.8")
    ]
    first_loop = layer.sends[0][2]
    assert all(loop is first_loop for _, _, loop in layer.sends)
    assert first_loop.is_running()  # the process's sending loop, kept for the next push


def test_a_sync_view_of_the_asgi_server_pushes_on_the_servers_loop(monkeypatch):
    layer = RecordingLayer()
    monkeypatch.setattr(realtime, "get_channel_layer", lambda: layer)

    async def server():
        await sync_to_async(realtime.send_now)([7], {"type": "test", "n": 0})
        return asyncio.get_running_loop()

    server_loop = async_to_sync(server)()
    ((_, _, loop),) = layer.sends
    assert loop is server_loop
