"""Pushes to users' open WebSockets (API.md, "Real time"): a service names the users and the frame,
and after its transaction commits the frame goes to each user's group on the channel layer, which
every socket of that user has joined. Best effort, as API.md says live frames are: a channel layer
that cannot be reached is logged and never fails the request (the HTTP lists are the record).

Revocations travel the same way (`revoked`): the sockets of a revoked token close within 2 s
(API.md, "Authentication"). The consumer that joins the groups is named by the WEBSOCKET_CONSUMER
setting (socialsite/asgi.py); this module knows no app."""

import asyncio
import logging
import os
import threading

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger("socialsite.realtime")

# Bounds a send when the layer is down (a Redis that does not answer), so that the request that
# pushed after its commit is not held up: the lost frames are what API.md calls best effort.
SEND_TIMEOUT_SECONDS = 2

ALL_TOKENS = "all"


def user_group(user_id):
    """The channel-layer group that every socket of the user `user_id` joins."""
    return f"user.{user_id}"


def push(user_ids, frame):
    """Send `frame` (a JSON-ready dict with a "type") to every socket of `user_ids` once the
    current transaction commits (at once outside one)."""
    recipients = sorted(set(user_ids))
    transaction.on_commit(lambda: send_now(recipients, frame))


def send_now(user_ids, frame):
    _send_events(
        [(user_id, {"type": "push", "frame": frame}) for user_id in user_ids],
        what=f"A {frame['type']} frame",
    )


def revoked(tokens_by_user):
    """Once the current transaction commits, tell the sockets of the revoked tokens to close:
    `tokens_by_user` maps a user id to the ids of their revoked tokens, or to ALL_TOKENS (every
    token of the user, e.g. one whose account is deleted). Each socket checks its own token in
    the database and closes with 4401, or 4402 when its user is deactivated."""
    events = [
        (user_id, {"type": "revoked", "tokens": tokens if tokens == ALL_TOKENS else sorted(tokens)})
        for user_id, tokens in sorted(tokens_by_user.items())
    ]
    if events:
        transaction.on_commit(lambda: _send_events(events, what="A revocation"))


def _send_events(events, *, what):
    try:
        _run(_group_send_all, events)
    except Exception as exc:
        logger.warning("%s was not pushed (channel layer: %r)", what, exc)


async def _group_send_all(events):
    layer = get_channel_layer()
    async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
        for user_id, event in events:
            await layer.group_send(user_group(user_id), event)


def layer_answers():
    """For /healthz: a group send through the channel layer (to a group no socket joins), which
    raises when the layer cannot be reached."""
    _run(_probe)


def _run(coroutine_function, *args):
    """Run the coroutine of the channel layer and wait for it: in a sync view of the ASGI app, on
    the server's own event loop (async_to_sync finds it); elsewhere (WSGI, the test client,
    commands) on this process's sending loop, where asgiref would start a loop and a thread,
    and the Redis layer a connection, for every push."""
    if _in_a_view_of_the_asgi_server():
        return async_to_sync(coroutine_function)(*args)
    # the coroutines bound themselves (SEND_TIMEOUT_SECONDS); this bounds a loop that is stuck
    future = asyncio.run_coroutine_threadsafe(coroutine_function(*args), _sending_loop())
    return future.result(timeout=2 * SEND_TIMEOUT_SECONDS)


def _in_a_view_of_the_asgi_server():
    """Whether this thread runs a sync view for an event loop of this process: asgiref's
    SyncToAsync marks its threads so, and async_to_sync then runs on that loop."""
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    pid = getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None)
    return loop is not None and pid == os.getpid() and loop.is_running()


_sending = {"pid": None, "loop": None}
_sending_lock = threading.Lock()


def _sending_loop():
    """The event loop, run by a daemon thread for the life of this process, that sends the pushes
    made outside the ASGI app's loop. Made again in a forked child, which has no such thread."""
    with _sending_lock:
        if _sending["pid"] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="realtime-sending", daemon=True).start()
            _sending.update(pid=os.getpid(), loop=loop)
        return _sending["loop"]


async def _probe():
    async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
        await get_channel_layer().group_send("healthz", {"type": "healthz"})
