"""gunicorn's settings for the site (`make run`, the benchmark and the load test start it with
`--config python:socialsite.gunicorn_config`): its own limits on the request head, and its own
error pages (an over-long request line or header, a malformed request) as the API's JSON
envelope instead of HTML. gunicorn answers these before the request reaches Django."""

import json

from gunicorn import util

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
    # Every error page of a worker goes through util.write_error (Worker.handle_error); gunicorn
    # has no setting for its body. tests/test_gunicorn.py checks the pages on a real server.
    util.write_error = write_json_error
