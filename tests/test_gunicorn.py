"""The site under a real gunicorn, started as `make run` starts it (socialsite/gunicorn_config.py):
what gunicorn itself answers (an over-long request line or header) is the JSON envelope, and a
body over the limit, or one without a Content-Length (chunked), is refused unread (issue 12)."""

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time

import pytest
from django.conf import settings

from accounts.captcha import PER_ADDRESS_LIMIT as CAPTCHAS_PER_ADDRESS

KiB, MiB = 1024, 1024 * 1024
TOO_LARGE = {"status": 9413, "msg": "请求体过大"}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module", params=["asgi", "wsgi"])
def server(request, tmp_path_factory):
    """(host, port) of a gunicorn with one worker on a free port, on a database nothing else uses
    (none of these requests reaches it) and a cache in the worker's memory: `make run`'s uvicorn
    worker (SERVER=asgi) and the sync worker of SERVER=wsgi."""
    port = free_port()
    database = tmp_path_factory.mktemp("gunicorn") / "never-opened.sqlite3"
    environment = {
        **{name: value for name, value in os.environ.items() if name != "DATABASE_REPLICA_URLS"},
        "DJANGO_SETTINGS_MODULE": "socialsite.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "off",
        "DATABASE_URL": f"sqlite:///{database}",
        # the captcha's answers and per-address counts in the worker's memory: no database
        "CACHE_URL": "locmemcache://",
        "SERVER": request.param,
    }
    command = [sys.executable, "-m", "gunicorn"]
    command += ["--config", "python:socialsite.gunicorn_config"]
    command += ["--workers", "1", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=environment)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        process.wait(timeout=30)


def request(server, method, path, headers=None):
    """(HTTP status, Content-Type, JSON body) of one request to `server`."""
    connection = http.client.HTTPConnection(*server, timeout=30)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), json.loads(response.read())
    finally:
        connection.close()


def test_an_over_long_request_line_gets_json(server):
    status, content_type, body = request(server, "GET", "/get_info?email=" + "a" * 9000)
    assert (status, content_type) == (400, "application/json")
    assert body == {"status": 9400, "msg": "参数格式错误", "errors": {"request": ["请求行过长。"]}}


def test_an_over_long_header_gets_json(server):
    status, content_type, body = request(server, "GET", "/get_info", headers={"X-Pad": "a" * 9000})
    assert (status, content_type) == (400, "application/json")
    assert body == {"status": 9400, "msg": "参数格式错误", "errors": {"request": ["请求头过大。"]}}


def test_a_long_query_the_api_can_take_reaches_the_app(server):
    # /get_data with every filter in Chinese at its text limit is about 5 KB, percent-encoded.
    status, _, body = request(server, "GET", "/get_info?email=" + "%E4%B8%AD" * 600)
    assert (status, body["status"]) == (401, 9401)


def test_a_malformed_request_gets_json(server):
    status, content_type, body = request(server, "GET", "/get_info", headers={"Bad Name": "x"})
    assert (status, content_type) == (400, "application/json")
    assert body["status"] == 9400


def answer_before_the_body(server, head):
    """(HTTP status, JSON body) of what the server answers to a request of which only `head` (the
    request head, perhaps a first chunk) was sent: it must answer without waiting for the rest."""
    with socket.create_connection(server, timeout=10) as connection:
        connection.sendall(head)
        received = b""
        while b"\r\n\r\n" not in received or len(received) < response_length(received):
            data = connection.recv(65536)  # a server waiting for the body times out here
            assert data, f"the connection closed after {received!r}"
            received += data
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def response_length(received):
    head, _, _ = received.partition(b"\r\n\r\n")
    lengths = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    return len(head) + 4 + int(lengths[0].split(b":")[1])


@pytest.mark.parametrize("path", ["/login", "/register2"])
def test_a_chunked_body_is_refused_unread(server, path):
    """Reading it would cost far more than its size: gunicorn decodes each chunk in Python (300 KB
    in 1-byte chunks: 1 s of CPU). Django itself reads nothing of a body without a length."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n"
    )
    assert answer_before_the_body(server, head.encode()) == (
        400,
        {
            "status": 9400,
            "msg": "参数格式错误",
            "errors": {"body": ["请求体须注明长度（Content-Length）。"]},
        },
    )


@pytest.mark.parametrize(
    ("path", "length"), [("/login", 64 * KiB + 1), ("/register2", 8 * MiB + 1)]
)
def test_a_body_over_the_limit_is_refused_unread(server, path, length):
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    )
    assert answer_before_the_body(server, head.encode()) == (413, TOO_LARGE)


def test_a_forwarded_for_header_does_not_change_the_address_that_counts(server):
    """API.md: a per-address limit counts the connection's address, unless TRUSTED_PROXIES says
    which proxies to believe. uvicorn, by default, takes a request from 127.0.0.1 to come through
    a proxy and makes X-Forwarded-For the client's address: any process on the machine (or a
    proxy passing the header on) would get a fresh limit per request."""
    for number in range(CAPTCHAS_PER_ADDRESS):
        headers = {"X-Forwarded-For": f"203.0.113.{number}"}
        _, _, body = request(server, "GET", f"/get_yzm?uuid=forwarded-{number}", headers)
        assert body["status"] == 2000
    headers = {"X-Forwarded-For": "198.51.100.1"}
    status, _, body = request(server, "GET", "/get_yzm?uuid=one-more", headers)
    assert (status, body["status"]) == (429, 9429)
