"""The HTTP side of socialsite.asgi (`make run`'s application): the same answers as under WSGI,
the middleware stack async from end to end (a request crosses to a thread once, for its view),
and a body `@api` refuses from the request's head left unread (issue 14)."""

import asyncio
import json
import threading
from concurrent.futures import thread

import pytest
from asgiref import current_thread_executor
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.core.cache import caches
from django.core.handlers.asgi import ASGIHandler
from django.urls import get_script_prefix

from socialsite.asgi import application, bounded, django_application

KiB = 1024


def scope(method, path, headers=(), query=b""):
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:5000"), *headers],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 5000),
    }


def call(request_scope, body_messages, timeout=5):
    """(status, headers, JSON body) of the application's answer; `body_messages` are the
    http.request messages the client sends (perhaps not all of a declared body)."""

    async def exchange():
        communicator = ApplicationCommunicator(application, request_scope)
        for message in body_messages:
            await communicator.send_input(message)
        start = await communicator.receive_output(timeout)
        assert start["type"] == "http.response.start"
        content = b""
        while True:
            message = await communicator.receive_output(timeout)
            content += message.get("body", b"")
            if not message.get("more_body"):
                break
        await communicator.wait(timeout)
        return (
            start["status"],
            {name.lower(): value for name, value in start["headers"]},
            json.loads(content),
        )

    return async_to_sync(exchange)()


def whole(body=b""):
    return [{"type": "http.request", "body": body, "more_body": False}]


@pytest.mark.django_db(transaction=True)
def test_healthz_over_asgi():
    status, headers, body = call(scope("GET", "/healthz"), whole())
    assert (status, headers[b"content-type"]) == (200, b"application/json")
    assert body == {"status": 0, "msg": "ok", "db": "ok", "cache": "ok", "channels": "ok"}


@pytest.mark.django_db(transaction=True)
def test_an_unknown_path_is_the_json_404():
    status, _, body = call(scope("GET", "/no-such-endpoint"), whole())
    assert (status, body["status"]) == (404, 9404)


@pytest.mark.django_db(transaction=True)
def test_a_login_over_asgi(user):
    form = b"email=alice%40example.com&pass=correct-horse-battery"
    headers = [
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"content-length", str(len(form)).encode()),
    ]
    status, _, body = call(scope("POST", "/login", headers), whole(form))
    assert (status, body["status"]) == (200, 1002)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "length"), [("/login", 64 * KiB + 1), ("/register2", 8 * 1024 * KiB + 1)]
)
def test_a_body_over_the_limit_is_answered_before_it_is_sent(path, length):
    headers = [(b"content-type", b"application/json"), (b"content-length", str(length).encode())]
    # Only the first bytes arrive: an application waiting for the rest would time out.
    first = [{"type": "http.request", "body": b"{", "more_body": True}]
    status, _, body = call(scope("POST", path, headers), first)
    assert (status, body) == (413, {"status": 9413, "msg": "请求体过大"})


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_is_answered_before_it_is_sent():
    headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]
    first = [{"type": "http.request", "body": b"{", "more_body": True}]
    status, _, body = call(scope("POST", "/login", headers), first)
    assert (status, body["errors"]) == (400, {"body": ["请求体须注明长度（Content-Length）。"]})


@pytest.mark.django_db(transaction=True)
def test_a_body_within_the_limit_of_an_endpoint_that_takes_images_is_read(user, client_for):
    """Over /login's 64 KiB, within /reset's 8 MiB: read, and answered on its merits."""
    token = client_for(user).token
    form = b"email=alice%40example.com&introduction=" + b"x" * (70 * KiB)
    headers = [
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"content-length", str(len(form)).encode()),
        (b"authorization", f"Bearer {token}".encode()),
    ]
    half = len(form) // 2
    messages = [
        {"type": "http.request", "body": form[:half], "more_body": True},
        {"type": "http.request", "body": form[half:], "more_body": False},
    ]
    status, _, body = call(scope("POST", "/reset", headers), messages)
    assert (status, body["status"]) == (400, 9400)
    assert "introduction" in body["errors"]


def thread_crossings(monkeypatch, app, path):
    """The threads in which one GET of `path` through the ASGI application `app` ran sync code,
    a crossing each: every job a thread pool runs (socialsite.asgi's crossings) passes through
    concurrent.futures' _WorkItem.run, in the thread, and every job asgiref's sync_to_async
    hands to a thread waiting in async_to_sync through its CurrentThreadExecutor's."""
    crossings = []

    def counting(work_item_class):
        original = work_item_class.run

        def counted(self, *args, **kwargs):
            crossings.append(threading.get_ident())
            return original(self, *args, **kwargs)

        monkeypatch.setattr(work_item_class, "run", counted)

    async def exchange():
        # from here: the thread that async_to_sync runs this loop in is not the application's
        counting(thread._WorkItem)
        counting(current_thread_executor._WorkItem)
        communicator = ApplicationCommunicator(app, scope("GET", path))
        await communicator.send_input(whole()[0])
        while True:
            message = await communicator.receive_output(5)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                break
        await communicator.wait(5)

    async_to_sync(exchange)()
    monkeypatch.undo()
    return crossings


@pytest.mark.django_db(transaction=True)
def test_a_request_crosses_to_a_thread_twice(monkeypatch):
    """From request_started through the middleware stack and the view, and the response's close.
    Django's own ASGI handler crosses more often with the same stack (each async-capable
    MiddlewareMixin hook, each view middleware hook and the view apart)."""
    assert len(thread_crossings(monkeypatch, application, "/openapi.json")) == 2
    assert len(thread_crossings(monkeypatch, ASGIHandler(), "/openapi.json")) > 3


@pytest.mark.django_db(transaction=True)
def test_requests_one_after_the_other_reuse_one_thread(monkeypatch):
    """All crossings of a request run in one thread, as Django wants, and the next request
    borrows the same one: no thread is started per request (Django's own handler starts one)."""
    first = thread_crossings(monkeypatch, application, "/openapi.json")
    assert django_application.idle_executors
    second = thread_crossings(monkeypatch, application, "/openapi.json")
    assert len(set(first)) == 1
    assert set(second) == set(first)
    assert set(thread_crossings(monkeypatch, ASGIHandler(), "/openapi.json")) != set(first)


@pytest.mark.django_db(transaction=True)
def test_a_file_body_is_read_in_the_requests_thread(monkeypatch, media_root):
    """Django reads a file response's body through its own sync_to_async: in the request's
    thread too, not in the one thread of the process that the sockets' token checks share."""
    media_root.mkdir(parents=True, exist_ok=True)
    (media_root / "served.txt").write_bytes(b"x" * 100_000)
    crossings = thread_crossings(monkeypatch, application, "/media/served.txt")
    assert len(crossings) > 2
    assert len(set(crossings)) == 1


@pytest.mark.django_db(transaction=True)
def test_the_close_closes_the_caches_the_view_used(monkeypatch):
    """request_finished closes the caches the request opened (Django's close_caches): the
    close's crossing runs in the context the view ran in."""
    closed = []
    cache_class = type(caches["default"])
    monkeypatch.setattr(cache_class, "close", lambda self, **kwargs: closed.append(self))
    status, _, body = call(scope("GET", "/get_yzm", query=b"uuid=closing"), whole())
    assert (status, body["status"]) == (200, 2000)
    assert closed


@pytest.mark.django_db(transaction=True)
def test_the_view_sees_the_script_prefix_of_the_scope(monkeypatch):
    """Behind a proxy that mounts the site under a path (the scope's root_path), URLs that the
    view builds (reverse(), MEDIA_URL) start with it."""
    seen = []
    get_response = django_application.get_response

    def recording(request):
        seen.append(get_script_prefix())
        return get_response(request)

    monkeypatch.setattr(django_application, "get_response", recording)
    mounted = {**scope("GET", "/sub/healthz"), "root_path": "/sub"}
    status, _, _ = call(mounted, whole())
    assert (status, seen) == (200, ["/sub/"])


def test_at_most_the_limit_of_requests_run_at_once():
    running, most = 0, 0

    async def slow_app(scope, receive, send):
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.02)
        running -= 1

    async def burst():
        limited = bounded(slow_app, 3)
        await asyncio.gather(*(limited({"type": "http"}, None, None) for _ in range(10)))

    async_to_sync(burst)()
    assert most == 3
