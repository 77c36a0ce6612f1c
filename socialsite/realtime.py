"""Pushes to users' open WebSockets (API.md, "Real time"): a service names the users and the frame,
and after its transaction commits the frame goes to each user's group on the channel layer, which
every socket of that user has joined. Best effort, as API.md says live frames are: a channel layer
that cannot be reached is logged and never fails the request (the HTTP lists are the record).

Revocations travel the same way (`revoked`): the sockets of a revoked token close within 2 s
(API.md, "Authentication"). The consumer that joins the groups is named by the WEBSOCKET_CONSUMER
setting (socialsite/asgi.py); this module knows no app."""

import asyncio
import logging

from asgiref.sync import async_to_sync
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
        async_to_sync(_group_send_all)(events)
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
    async_to_sync(_probe)()


async def _probe():
    async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
        await get_channel_layer().group_send("healthz", {"type": "healthz"})
