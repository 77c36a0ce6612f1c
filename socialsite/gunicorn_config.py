"""gunicorn's settings for the site (`make run`, the benchmark and the load test start it with
`--config python:socialsite.gunicorn_config`): the application and its workers (SERVER=asgi, the
default: socialsite.asgi on uvicorn workers, HTTP and the WebSocket /ws on one port;
SERVER=wsgi: socialsite.wsgi on gunicorn's sync workers, HTTP only), the limits on the request
head, and the server's own error pages (an over-long request line or header, a malformed
request) as the API's JSON envelope instead of HTML or plain text. The server answers these
before the request reaches Django."""

import json
import os

import uvicorn_worker
from gunicorn import util

SERVER = os.environ.get("SERVER", "asgi")
if SERVER not in {"asgi", "wsgi"}:
    raise SystemExit(f"SERVER must be asgi or wsgi, not {SERVER!r}")
# API.md: a WebSocket frame over 16 KiB closes the socket with 1009. The consumer checks it
# (accounts/consumers.py, MAX_FRAME_BYTES); uvicorn, told the same, never buffers more (its own
# default is 16 MiB a frame, on every socket). No permessage-deflate: the frames are a few hundred
# bytes of JSON, and its zlib state took half of a socket's memory (README.md, "WebSocket load
# test": 83 KiB a socket with it, 44 KiB without, 2,000 idle sockets).
WEBSOCKET_MAX_FRAME_BYTES = 16 * 1024


class UvicornWorker(uvicorn_worker.UvicornWorker):
    CONFIG_KWARGS = {
        **uvicorn_worker.UvicornWorker.CONFIG_KWARGS,
        "ws_max_size": WEBSOCKET_MAX_FRAME_BYTES,
        "ws_per_message_deflate": False,
        # The client's address is the connection's, or what TRUSTED_PROXIES says to believe
        # (socialsite.api.client_ip), as under the sync workers. uvicorn's own rule would take
        # X-Forwarded-For from any client on 127.0.0.1 (tests/test_gunicorn.py).
        "proxy_headers": False,
    }


if SERVER == "asgi":
    wsgi_app = "socialsite.asgi:application"
    worker_class = "socialsite.gunicorn_config.UvicornWorker"
    # Seconds an idle keep-alive connection stays open (uvicorn's timeout_keep_alive; gunicorn's
    # default of 2 s would close the connections of clients that pause, and a client sending on
    # one just as it closes gets no answer). Above a reverse proxy's own (nginx's upstream
    # keepalive_timeout: 60 s), so that the proxy is the side that closes. The sync workers
    # close after each response.
    keepalive = 75
else:
    wsgi_app = "socialsite.wsgi:application"
    worker_class = "sync"

# The longest request line (method, path and query string): gunicorn's largest, which leaves
# room for /get_data with every filter in Chinese at the profile's text limits (percent-encoded,
# about 5 KB; gunicorn's default is 4094). The most and the longest header fields: its defaults.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# gunicorn's status → the message under `errors.request` of the 400/9400 it becomes: API.md's
# transport codes have no 414 or 431.
REQUEST_ERRORS = {
    414: "请求行过长。",
    431: "请求头过大。",
}


def json_error_page(status_int):
    """The bytes of the whole HTTP response for one of gunicorn's own error pages."""
    if status_int >= 500:
        http_status, envelope = (
            "500 Internal Server Error",
            {"status": 9500, "msg": "服务器内部错误"},
        )
    else:
        message = REQUEST_ERRORS.get(status_int, "请求无效。")
        http_status = "400 Bad Request"
        envelope = {"status": 9400, "msg": "参数格式错误", "errors": {"request": [message]}}
    body = json.dumps(envelope, ensure_ascii=False).encode()
    head = (
        f"HTTP/1.1 {http_status}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def write_json_error(sock, status_int, reason, mesg):
    """In place of gunicorn.util.write_error, which writes an HTML page (with the parser's
    message, which may echo the request)."""
    util.write_nonblock(sock, json_error_page(status_int))


def post_worker_init(worker):
    # Every error page of a sync worker goes through util.write_error (Worker.handle_error);
    # gunicorn has no setting for its body. tests/test_gunicorn.py checks the pages on a real
    # server, with both worker classes.
    util.write_error = write_json_error
    if SERVER == "asgi":
        json_errors_in_uvicorn()


class HeadTooLarge(Exception):
    """Raised in uvicorn's parser callbacks: the parser stops, and the 400 page says why."""


def json_errors_in_uvicorn():
    """uvicorn (its httptools protocol, which it picks when httptools is installed, as
    requirements.txt has it) has no limits on the request line and header fields: the same as
    gunicorn's above, and its 400 page (plain text) as the envelope."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    on_url, on_header = HttpToolsProtocol.on_url, HttpToolsProtocol.on_header

    def limited_on_url(self, url):
        on_url(self, url)
        if len(self.url) > limit_request_line:
            self.json_error_status = 414
            raise HeadTooLarge

    def limited_on_header(self, name, value):
        on_header(self, name, value)
        too_long = len(name) + len(value) + 2 > limit_request_field_size
        if too_long or len(self.headers) > limit_request_fields:
            self.json_error_status = 431
            raise HeadTooLarge

    def send_json_400(self, msg):
        self.transport.write(json_error_page(getattr(self, "json_error_status", 400)))
        self.transport.close()

    HttpToolsProtocol.on_url = limited_on_url
    HttpToolsProtocol.on_header = limited_on_header
    HttpToolsProtocol.send_400_response = send_json_400
