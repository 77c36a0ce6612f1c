"""The WebSocket /ws (API.md, "Real time"): one consumer per socket. It authenticates the token
(the handshake's `Authorization: Bearer` header, or a first `auth` frame within 10 s), joins the
user's group (socialsite.realtime.user_group) and forwards what the services push there. It only
pushes: every write is an HTTP call. socialsite/asgi.py routes /ws here through the
WEBSOCKET_CONSUMER setting."""

import asyncio
import collections
import json
import logging
import time
import weakref
from urllib.parse import urlsplit

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from accounts.models import AuthToken
from accounts.queries import token_named_by
from socialsite import realtime

logger = logging.getLogger("socialsite.realtime")

# Close codes (API.md, "Real time"), and the standard ones the consumer uses.
NOT_LOGGED_IN = 4401
DEACTIVATED = 4402
POLICY_VIOLATION = 1008  # more than MAX_FRAMES_PER_SECOND
MESSAGE_TOO_BIG = 1009  # a frame over MAX_FRAME_BYTES
TRY_AGAIN_LATER = 1013  # the database or the channel layer did not answer, or broke

AUTH_TIMEOUT_SECONDS = 10
MAX_FRAME_BYTES = 16 * 1024
MAX_FRAMES_PER_SECOND = 10
# How old the last database check of the token may be when a frame is to be forwarded.
RECHECK_AFTER_SECONDS = 30
# A worker's sockets have their tokens re-checked together this often (TokenWatch), so that a
# frame never waits for a check of its own socket's.
WATCH_SECONDS = RECHECK_AFTER_SECONDS / 2
# Tokens per query of TokenWatch's.
WATCH_BATCH = 500

BAD_FRAME = {"type": "error", "status": 9400, "msg": "参数格式错误"}


def origin_allowed(scope):
    """API.md's origin rule: no Origin (a native app), the site's own (the Host the handshake
    was sent to), or one of CORS_ALLOWED_ORIGINS."""
    headers = dict(scope.get("headers", ()))
    origin = headers.get(b"origin", b"").decode("latin-1").strip()
    if not origin:
        return True
    if origin in settings.CORS_ALLOWED_ORIGINS:
        return True
    host = headers.get(b"host", b"").decode("latin-1").strip().lower()
    return bool(host) and urlsplit(origin).netloc.lower() == host


def bearer_key(scope):
    """The key of the handshake's `Authorization: Bearer <key>` header, or None."""
    value = dict(scope.get("headers", ())).get(b"authorization", b"").decode("latin-1")
    scheme, _, key = value.partition(" ")
    return key.strip() if scheme.lower() == "bearer" and key.strip() else None


def close_code(token):
    """The close code for a socket of `token` as accounts.auth.authenticate decides for HTTP: no
    such token, or one revoked or expired → 4401; the user deactivated → 4402; None: usable."""
    if token is None:
        return NOT_LOGGED_IN
    if not token.user.is_active:
        return DEACTIVATED
    if not token.is_usable():
        return NOT_LOGGED_IN
    return None


def token_state(*, key=None, token_id=None):
    """(close code or None, token) of the token with `key` (touched when usable), or of the one
    with `token_id`."""
    if key is not None:
        token = token_named_by(key)
    else:
        token = AuthToken.objects.select_related("user").filter(pk=token_id).first()
    code = close_code(token)
    if code is None and key is not None:
        token.touch()
    return code, token


def close_codes(token_ids):
    """{token id: close code or None} for `token_ids`, in a query per WATCH_BATCH of them."""
    token_ids = sorted(token_ids)
    codes = dict.fromkeys(token_ids, NOT_LOGGED_IN)
    fields = ("id", "user", "revoked_at", "expires_at", "user__is_active")
    for start in range(0, len(token_ids), WATCH_BATCH):
        batch = token_ids[start : start + WATCH_BATCH]
        tokens = AuthToken.objects.filter(pk__in=batch).select_related("user").only(*fields)
        codes.update((token.pk, close_code(token)) for token in tokens)
    return codes


class TokenWatch:
    """The authenticated sockets of one event loop (a worker process), whose tokens it re-checks
    together every WATCH_SECONDS: a socket whose token is no longer usable closes with its code,
    the others count as checked at the start of the query. A socket re-checks on its own only
    when that has not happened for RECHECK_AFTER_SECONDS (the database did not answer the
    watch): one at a time, a worker's thousand sockets had queued a thousand queries in its one
    database thread, and the frames behind them."""

    _of_loop = weakref.WeakKeyDictionary()

    @classmethod
    def of_running_loop(cls):
        loop = asyncio.get_running_loop()
        if loop not in cls._of_loop:
            cls._of_loop[loop] = cls()
        return cls._of_loop[loop]

    def __init__(self):
        self.consumers = set()
        self.task = None

    def add(self, consumer):
        self.consumers.add(consumer)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.watch())

    def discard(self, consumer):
        self.consumers.discard(consumer)
        if not self.consumers and self.task is not None:
            self.task.cancel()
            self.task = None

    async def watch(self):
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            await self.check()

    async def check(self):
        watched = [consumer for consumer in self.consumers if not consumer.closing]
        started = time.monotonic()
        try:
            codes = await database_sync_to_async(close_codes)({c.token_id for c in watched})
        except Exception:
            logger.exception("The WebSockets' tokens could not be re-checked")
            return
        for consumer in watched:
            code = codes[consumer.token_id]
            if code is None:
                consumer.checked_at = max(consumer.checked_at, started)
            else:
                await consumer.shut(code)


class RealtimeConsumer(AsyncWebsocketConsumer):
    """A socket's life: connect (origin, then header authentication or the wait for an `auth`
    frame) → ready → pings and pushes → closed by the client, a revocation or a limit."""

    async def connect(self):
        self.token_id = None
        self.user_id = None
        self.group = None
        self.checked_at = 0.0
        self.closing = False
        self.deadline = None
        self.arrivals = collections.deque(maxlen=MAX_FRAMES_PER_SECOND)
        if not origin_allowed(self.scope):
            # Before accept: the handshake is refused with HTTP 403.
            await self.close()
            return
        await self.accept()
        key = bearer_key(self.scope)
        if key is not None:
            await self.authenticate(key)
        else:
            self.deadline = asyncio.get_running_loop().create_task(self.auth_deadline())

    async def auth_deadline(self):
        await asyncio.sleep(AUTH_TIMEOUT_SECONDS)
        if self.user_id is None:
            await self.shut(NOT_LOGGED_IN)

    async def disconnect(self, code):
        self.closing = True
        if self.deadline is not None:
            self.deadline.cancel()
        TokenWatch.of_running_loop().discard(self)
        if self.group is not None:
            try:
                await self.channel_layer.group_discard(self.group, self.channel_name)
            except Exception as exc:
                logger.warning("Leaving %s failed (channel layer: %r)", self.group, exc)

    async def shut(self, code):
        if not self.closing:
            self.closing = True
            await self.close(code)

    async def authenticate(self, key):
        try:
            code, token = await database_sync_to_async(token_state)(key=key)
        except Exception:
            logger.exception("A WebSocket's token could not be checked")
            await self.shut(TRY_AGAIN_LATER)
            return
        if code is not None:
            await self.shut(code)
            return
        self.token_id, self.user_id = token.pk, token.user_id
        self.checked_at = time.monotonic()
        if self.deadline is not None:
            self.deadline.cancel()
        group = realtime.user_group(self.user_id)
        try:
            await self.channel_layer.group_add(group, self.channel_name)
        except Exception as exc:
            # Without the group no push would arrive: the client reconnects later and catches up
            # through the HTTP lists (API.md, "Delivery").
            logger.warning("A WebSocket could not join %s (channel layer: %r)", group, exc)
            await self.shut(TRY_AGAIN_LATER)
            return
        self.group = group
        # Once more, now that the group would hear of a revocation: one committed between the
        # first check and the join sent its event to nobody.
        if not await self.still_authorized(force=True):
            return
        TokenWatch.of_running_loop().add(self)
        await self.send_json({"type": "ready", "email": token.user.email})

    async def receive(self, text_data=None, bytes_data=None):
        if self.closing:
            return
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > MAX_FRAME_BYTES:
            await self.shut(MESSAGE_TOO_BIG)
            return
        now = time.monotonic()
        if len(self.arrivals) == MAX_FRAMES_PER_SECOND and now - self.arrivals[0] < 1:
            await self.shut(POLICY_VIOLATION)
            return
        self.arrivals.append(now)
        frame = parse_frame(text_data)
        if self.user_id is None:
            if frame.get("type") == "auth" and _is_key(frame):
                # Frames are handled one at a time: the next waits for this check.
                await self.authenticate(frame["token"])
            else:
                await self.shut(NOT_LOGGED_IN)
        elif frame == {"type": "ping"}:
            await self.send_json({"type": "pong"})
        else:
            await self.send_json(BAD_FRAME)

    async def send_json(self, frame):
        await self.send(text_data=json.dumps(frame, ensure_ascii=False))

    async def still_authorized(self, *, force=False):
        """Re-check the token in the database when the last check is over RECHECK_AFTER_SECONDS
        old (or `force`); closes the socket and answers False when it is no longer usable."""
        if not force and time.monotonic() - self.checked_at <= RECHECK_AFTER_SECONDS:
            return True
        try:
            code, _ = await database_sync_to_async(token_state)(token_id=self.token_id)
        except Exception:
            logger.exception("A WebSocket's token could not be re-checked")
            # Unverified, nothing is forwarded: a revocation may have been missed.
            await self.shut(NOT_LOGGED_IN if force else TRY_AGAIN_LATER)
            return False
        if code is not None:
            await self.shut(code)
            return False
        self.checked_at = time.monotonic()
        return True

    async def dispatch(self, message):
        # channels' own first closes stale database connections, in a thread crossing of its
        # own, for every frame in or out; this consumer reaches the database only through
        # database_sync_to_async, which closes them itself around its work.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # Channel-layer events (socialsite.realtime).

    async def push(self, event):
        if self.closing or self.user_id is None:
            return
        if await self.still_authorized():
            await self.send_json(event["frame"])

    async def layer_lost(self, event):
        # socialsite.channel_layer: this worker's subscriptions broke, and what was pushed
        # meanwhile never arrived. Closed, the client reconnects once the layer answers and
        # asks the HTTP lists for what it missed (API.md, "Delivery").
        await self.shut(TRY_AGAIN_LATER)

    async def revoked(self, event):
        if self.closing or self.user_id is None:
            return
        tokens = event["tokens"]
        if tokens == realtime.ALL_TOKENS or self.token_id in tokens:
            await self.still_authorized(force=True)


def parse_frame(text_data):
    """The frame as a dict; {} for anything that is not a JSON object (binary frames too)."""
    if text_data is None:
        return {}
    try:
        frame = json.loads(text_data)
    except ValueError:
        return {}
    return frame if isinstance(frame, dict) else {}


def _is_key(frame):
    return isinstance(frame.get("token"), str) and 0 < len(frame["token"]) <= 256
