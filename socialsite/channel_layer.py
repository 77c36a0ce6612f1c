"""The channel layer (settings.CHANNEL_LAYERS with CHANNEL_LAYER_URL): channels_redis's
RedisPubSubChannelLayer, except when a worker's pub/sub connection to Redis breaks.

channels_redis then reconnects by itself, and redis-py's PubSub subscribes again to everything
it had, silently: whatever was published in between is lost to the sockets that stayed open, and
their clients, which saw no close, never ask the HTTP lists for it (API.md, "Delivery": a client
catches up when it reconnects). Here a broken connection is dropped with its subscriptions
instead, and every channel that had one (directly or through a group) receives the event LOST:
the consumer closes its socket (1013), its client reconnects once the layer answers, and catches
up. channels_redis's own hook for this, the `on_disconnect` option, is no longer called by its
pub/sub layer (channels_redis issue #406)."""

import asyncio
import logging

from channels_redis import pubsub
from channels_redis.utils import _close_redis, _wrap_close, decode_hosts

logger = logging.getLogger("socialsite.realtime")

# What every channel of a broken connection receives; a consumer handles it as `layer_lost`.
LOST = {"type": "layer.lost"}


class RedisPubSubChannelLayer(pubsub.RedisPubSubChannelLayer):
    def _get_layer(self):
        # channels_redis's, with this module's loop layer.
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer


class LoopLayer(pubsub.RedisPubSubLoopLayer):
    def __init__(self, hosts=None, *args, **kwargs):
        super().__init__(hosts, *args, **kwargs)
        self._shards = [ShardConnection(host, self) for host in decode_hosts(hosts)]

    async def _subscribe_to_channel(self, channel):
        try:
            await super()._subscribe_to_channel(channel)
        except BaseException:
            # channels_redis keeps the queue of a channel it could not subscribe (a socket
            # opened while the layer is down): one leaked per attempt.
            self.channels.pop(channel, None)
            raise


class ShardConnection(pubsub.RedisSingleShardConnection):
    """The connection to one Redis. Any error while receiving, or any reconnection of the
    pub/sub connection (redis-py reconnects it inside a command too), counts as a break."""

    def __init__(self, host, channel_layer):
        super().__init__(host, channel_layer)
        self._watched = None  # the pub/sub connection whose reconnections _reconnected hears

    async def subscribe(self, channel):
        await super().subscribe(channel)
        pubsub_now = self._pubsub
        connection = pubsub_now.connection if pubsub_now is not None else None
        if connection is not None and connection is not self._watched:
            # Its first connection is made by now: every later one is a reconnection.
            self._watched = connection
            connection.register_connect_callback(self._reconnected)

    async def _reconnected(self, connection):
        # Called inside redis-py's connect, maybe under self._lock: dropped in a task of its own.
        asyncio.ensure_future(self._lost(self._pubsub, "reconnected"))

    async def _do_receiving(self):
        # channels_redis's loop, where an error drops the connection instead of retrying it.
        while True:
            pubsub_now = self._pubsub
            try:
                if pubsub_now is not None and pubsub_now.subscribed:
                    message = await pubsub_now.get_message(
                        ignore_subscribe_messages=True, timeout=0.1
                    )
                    self._receive_message(message)
                else:
                    await asyncio.sleep(0.1)
            except Exception as exc:
                await self._lost(pubsub_now, f"{type(exc).__name__}: {exc}")

    async def _lost(self, broken, reason):
        """Drop the pub/sub connection `broken` (unless it is already gone) and everything it
        was subscribed to, and tell each channel that had a subscription there."""
        async with self._lock:
            if broken is None or broken is not self._pubsub:
                return
            subscribed, self._subscribed_to = self._subscribed_to, set()
            redis, self._redis, self._pubsub = self._redis, None, None
            if self._watched is not None:
                self._watched.deregister_connect_callback(self._reconnected)
                self._watched = None
        layer = self.channel_layer
        told = set()
        for name in subscribed:
            told.update([name] if name in layer.channels else layer.groups.get(name, ()))
        logger.warning(
            "The channel layer's connection to %s broke (%s): %d channels told",
            self.host.get("address", self.host),
            reason,
            len(told),
        )
        message = layer.channel_layer.serialize(LOST)
        for name in told:
            if name in layer.channels:
                layer.channels[name].put_nowait(message)
        try:
            await broken.aclose()
            await _close_redis(redis)
        except Exception as exc:
            logger.info("Closing the broken connection failed: %r", exc)
