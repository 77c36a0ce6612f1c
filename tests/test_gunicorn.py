"""The site under a real gunicorn, started as `make run` starts it (socialsite/gunicorn_config.py):
what gunicorn itself answers (an over-long request line or header) is the JSON envelope, and a
chunked body, sent without a Content-Length, meets the same body limits as any other (issue 12)."""

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

KiB, MiB = 1024, 1024 * 1024
TOO_LARGE = {"status": 9413, "msg": "请求体过大"}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(host, port) of a gunicorn with one worker on a free port, on a database nothing else uses
    (none of these requests reaches it)."""
    port = free_port()
    database = tmp_path_factory.mktemp("gunicorn") / "never-opened.sqlite3"
    environment = {
        **{name: value for name, value in os.environ.items() if name != "DATABASE_REPLICA_URLS"},
        "DJANGO_SETTINGS_MODULE": "socialsite.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "off",
        "DATABASE_URL": f"sqlite:///{database}",
    }
    command = [sys.executable, "-m", "gunicorn", "socialsite.wsgi"]
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


def request(server, method, path, body=None, headers=None, chunked=False):
    """(HTTP status, Content-Type, JSON body) of one request to `server`."""
    connection = http.client.HTTPConnection(*server, timeout=30)
    try:
        connection.request(method, path, body, headers or {}, encode_chunked=chunked)
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


def chunks(body, size=8 * KiB):
    """`body` as the pieces of a chunked upload: no Content-Length."""
    return (body[start : start + size] for start in range(0, len(body), size))


def test_a_chunked_body_is_read(server):
    fields = {"email": "new@example.com", "pass": "a-long-enough-pass", "rid": "forged"}
    status, _, body = request(
        server,
        "POST",
        "/register2",
        chunks(json.dumps(fields).encode()),
        {"Content-Type": "application/json"},
        chunked=True,
    )
    assert (status, body) == (200, {"status": 4000, "msg": "rid错误"})


@pytest.mark.parametrize(("path", "size"), [("/login", 64 * KiB + 1), ("/register2", 8 * MiB + 1)])
def test_a_chunked_body_over_the_limit_is_refused(server, path, size):
    attack = b'{"pad": "' + b"x" * size + b'"}'
    status, _, body = request(
        server, "POST", path, chunks(attack), {"Content-Type": "application/json"}, chunked=True
    )
    assert (status, body) == (413, TOO_LARGE)
