"""Pushes to users' open WebSockets (API.md, "Real time"): a service names the users and the frame,
and after its transaction commits the frame goes to each user's group on the channel layer, which
every socket of that user has joined. Best effort, as API.md says live frames are: a channel layer
that cannot be reached is logged and never fails the request (the HTTP lists are the record)."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger("socialsite.realtime")


def user_group(user_id):
    """The channel-layer group that every socket of the user `user_id` joins."""
    return f"user.{user_id}"


def push(user_ids, frame):
    """Send `frame` (a JSON-ready dict with a "type") to every socket of `user_ids` once the
    current transaction commits (at once outside one)."""
    recipients = sorted(set(user_ids))
    transaction.on_commit(lambda: send_now(recipients, frame))


def send_now(user_ids, frame):
    layer = get_channel_layer()
    try:
        for user_id in user_ids:
            async_to_sync(layer.group_send)(user_group(user_id), {"type": "push", "frame": frame})
    except Exception as exc:
        logger.warning("A %s frame was not pushed (channel layer: %r)", frame["type"], exc)
