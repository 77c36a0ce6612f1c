"""The ASGI application (`make run`: gunicorn with uvicorn workers): HTTP goes to Django, the
WebSocket /ws to the one consumer the WEBSOCKET_CONSUMER setting names (socialsite/ imports no
app), any other WebSocket path is refused (HTTP 403), and a /ws handshake that cannot be set up
(the channel layer down) gets 503."""

import asyncio
import contextvars
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor

import django
from asgiref.sync import SyncToAsync, ThreadSensitiveContext
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "socialsite.settings")
# Django first: it sets the apps up before the consumer's module (and its models) is imported.
django.setup(set_prefix=False)

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

from socialsite.api import refused_unread  # noqa: E402
from socialsite.errors import UNAVAILABLE  # noqa: E402

logger = logging.getLogger("socialsite.realtime")


class DjangoInOneThread(ASGIHandler):
    """Django's ASGI handler, its middleware stack loaded sync and run with the view in one
    thread. Django's own async stack would call each hook of a MiddlewareMixin (Django's
    security, session, common, CSRF, auth, messages and clickjacking middleware) through a
    sync_to_async of its own: about a dozen thread crossings a request, for views that are all
    sync. Here a request crosses twice: from request_started to the response, and the
    response's close once it is sent."""

    def __init__(self):
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        # Single-thread executors between requests: Django's handler makes a new one, and so a
        # new thread, for every request. A request borrows one for all its crossings (a thread
        # of its own, as Django wants); `bounded` keeps at most HTTP_CONCURRENCY in use.
        self.idle_executors = []

    async def __call__(self, scope, receive, send):
        executor = self.idle_executors.pop() if self.idle_executors else None
        executor = executor or ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")
        try:
            # The request's own thread for what Django itself hands to sync_to_async (a file
            # response's body, read through it), not the process's one shared thread.
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send, executor)
        except BaseException:
            # Lent again once its thread is idle (the callback runs there): a request cancelled
            # while it waited for its thread may leave the view running.
            executor.submit(lambda: None).add_done_callback(
                lambda _: self.idle_executors.append(executor)
            )
            raise
        self.idle_executors.append(executor)

    async def handle(self, scope, receive, send, executor):
        """Django's, without its listener for the client going away, whose only use is to
        stop waiting for a view: a sync view runs to its end whatever the client does."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        # One context for both crossings, as for the request's one thread: what the view sets
        # (the caches it opened) is there for the close (request_finished closes them).
        context = contextvars.copy_context()
        try:
            response = await in_thread(executor, context, self.respond, scope, body_file)
            try:
                await self.send_response(response, send)
            finally:
                # After the answer is out: api.after_response's work runs in the close.
                await in_thread(executor, context, response.close)
        finally:
            body_file.close()

    def respond(self, scope, body_file):
        # here, not in the loop: asgiref's Local keeps a value for the thread that set it
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            return error_response
        response = self.get_response(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            # ASGIHandler's: the server chunks the body itself.
            response.block_size = self.chunk_size
        return response


def in_thread(executor, context, function, *args):
    """Await `function(*args)` run by `executor` in `context`: asgiref's
    sync_to_async(thread_sensitive=True) without its bookkeeping, which cost about half as much
    again as the crossing itself (README, "ASGI against WSGI"), for a thread that only runs
    this handler's sync code."""
    loop = asyncio.get_running_loop()
    return loop.run_in_executor(executor, context.run, _for_loop, loop, function, *args)


def _for_loop(loop, function, *args):
    # What sync_to_async tells its threads: async_to_sync in a view (socialsite.realtime's
    # pushes) then runs its coroutine on the server's loop, instead of a new loop and thread.
    SyncToAsync.threadlocal.main_event_loop = loop
    SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()
    return function(*args)


django_application = DjangoInOneThread()

WEBSOCKET_PATH = "/ws"


def withholding_refused_bodies(app):
    """Django's ASGI handler reads a request's whole body before the view runs; a body `@api`
    refuses from the request's head (over the endpoint's limit, or chunked) is not read: Django
    gets an empty one, and the view answers 413 or 400 from the headers, as under WSGI."""

    async def application(scope, receive, send):
        if scope["type"] == "http" and refused_unread(scope["path"], scope["headers"]):
            receive = empty_body(receive)
        await app(scope, receive, send)

    return application


def bounded(app, limit):
    """At most `limit` HTTP requests of this worker in Django at once; the others wait their turn
    in the event loop. Django runs each sync view in a thread of its own: unbounded, a burst
    would run as many password hashes at once (Argon2: 100 MiB each) and hold as many login
    slots of one address (the captcha after 20) as it has requests, where a sync worker runs
    one. WebSockets are not counted: a socket waits on the network, not on a thread."""
    semaphore = None

    async def application(scope, receive, send):
        nonlocal semaphore
        if semaphore is None:  # made in the worker's event loop
            semaphore = asyncio.Semaphore(limit)
        async with semaphore:
            await app(scope, receive, send)

    return application


def empty_body(receive):
    given = False

    async def replacement():
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        while True:  # what Django waits for after the body: the client going away
            message = await receive()
            if message["type"] != "http.request":
                return message

    return replacement


def websocket_router(consumer):
    consumer = guarded(consumer)

    async def route(scope, receive, send):
        if scope["path"] == WEBSOCKET_PATH:
            await consumer(scope, receive, send)
            return
        # Refused before the handshake completes: the client sees HTTP 403.
        await receive()  # websocket.connect
        await send({"type": "websocket.close"})

    return route


def guarded(consumer):
    """The consumer, except that a failure before the handshake is answered (the channel layer
    down: no channel for the socket) refuses the handshake with 503 and the 9503 envelope, which
    the client retries, instead of uvicorn's empty 500 and a traceback for every attempt."""

    async def application(scope, receive, send):
        connected = answered = False

        async def receive_tracked():
            nonlocal connected
            message = await receive()
            connected = True
            return message

        async def send_tracked(message):
            nonlocal answered
            answered = True
            await send(message)

        try:
            await consumer(scope, receive_tracked, send_tracked)
        except Exception as exc:
            if answered:
                raise
            logger.warning("A WebSocket handshake was refused with 503: %r", exc)
            if not connected:
                await receive()  # websocket.connect
            await refuse_unavailable(scope, send)

    return application


async def refuse_unavailable(scope, send):
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close"})  # a server without the extension: 403
        return
    body = json.dumps({"status": UNAVAILABLE.status, "msg": UNAVAILABLE.msg}, ensure_ascii=False)
    await send(
        {
            "type": "websocket.http.response.start",
            "status": UNAVAILABLE.http_status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "websocket.http.response.body", "body": body.encode()})


application = ProtocolTypeRouter(
    {
        "http": bounded(withholding_refused_bodies(django_application), settings.HTTP_CONCURRENCY),
        "websocket": websocket_router(import_string(settings.WEBSOCKET_CONSUMER).as_asgi()),
    }
)
