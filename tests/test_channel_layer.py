"""socialsite.channel_layer on a real server (a private embedded Valkey, which these tests stop):
when a worker's pub/sub connection breaks, its channels are told (LOST) and its subscriptions
are forgotten, not silently renewed; the live consequences are in tests/test_realtime_faults.py."""

import asyncio

import pytest
import redis

from socialsite import embedded_valkey
from socialsite.channel_layer import LOST, RedisPubSubChannelLayer

PREFIX = "layertest"


@pytest.fixture
def server(tmp_path_factory):
    with embedded_valkey.Server(tmp_path_factory.mktemp("layer") / "v.sock") as running:
        yield running


def subscriptions(server):
    """The channel names someone subscribes to on `server`."""
    with redis.Redis(unix_socket_path=str(server.path)) as client:
        return {name.decode() for name in client.pubsub_channels()}


def test_a_broken_connection_tells_its_channels_and_forgets_their_subscriptions(server):
    layer = RedisPubSubChannelLayer(hosts=[server.url], prefix=PREFIX)
    group_channel = f"{PREFIX}__group__g"

    async def scenario():
        before = await layer.new_channel()
        await layer.group_add("g", before)
        assert await asyncio.to_thread(subscriptions, server) == {before, group_channel}
        await asyncio.to_thread(server.stop)
        async with asyncio.timeout(2):
            assert await layer.receive(before) == LOST
        await asyncio.to_thread(server.start)
        after = await layer.new_channel()
        await layer.group_add("g", after)
        # channels_redis would have subscribed `before` again, its client none the wiser.
        assert await asyncio.to_thread(subscriptions, server) == {after, group_channel}
        await layer.group_send("g", {"type": "push", "n": 1})
        async with asyncio.timeout(2):
            assert await layer.receive(after) == {"type": "push", "n": 1}
        await layer.flush()

    asyncio.run(scenario())


def test_a_channel_made_while_the_layer_is_down_leaves_nothing_behind(server):
    layer = RedisPubSubChannelLayer(hosts=[server.url], prefix=PREFIX)
    server.stop()

    async def scenario():
        with pytest.raises(redis.ConnectionError):
            await layer.new_channel()
        assert layer._get_layer().channels == {}  # channels_redis keeps a queue per attempt
        await layer.flush()

    asyncio.run(scenario())
