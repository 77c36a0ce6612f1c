"""The errors of the API: `Code` (a status and its msg, as API.md pairs them), `ApiError` (the one
exception that ends a request with a code), the 9xxx transport codes, and `error_for`, which
maps any exception to the `ApiError` it answers as. Each app names its business codes in its own
catalogue (`accounts/errors.py`, …); a service raises them, or Django's `ValidationError` for a
malformed value, and never a transport code: those belong to this toolkit and to the views."""

import logging
from typing import NamedTuple

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, ValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger("socialsite.api")


class Code(NamedTuple):
    """A status of the envelope with its msg. Business codes (below 9000) come with HTTP 200;
    transport codes with the HTTP status they mirror."""

    status: int
    msg: str
    http_status: int = 200


class ApiError(Exception):
    """Ends the request with `code`: its status and msg go into the envelope, `extra` is merged
    into it, `headers` into the HTTP response."""

    def __init__(self, code, *, extra=None, headers=None):
        super().__init__(f"{code.status} {code.msg}")
        self.code = code
        self.extra = extra or {}
        self.headers = headers or {}

    @property
    def status(self):
        return self.code.status

    @property
    def msg(self):
        return self.code.msg

    @property
    def http_status(self):
        return self.code.http_status


# The transport-level table of API.md.
MALFORMED = Code(9400, "参数格式错误", 400)
NOT_LOGGED_IN = Code(9401, "请先登录", 401)
DEACTIVATED = Code(9402, "账号已被封禁", 403)
NOT_THE_OWNER = Code(9403, "无权操作其他用户", 403)
NO_SUCH_ENDPOINT = Code(9404, "接口不存在", 404)
METHOD_NOT_ALLOWED = Code(9405, "请求方法不允许", 405)
BODY_TOO_LARGE = Code(9413, "请求体过大", 413)
TOO_MANY_REQUESTS = Code(9429, "请求过于频繁", 429)
SERVER_ERROR = Code(9500, "服务器内部错误", 500)
UNAVAILABLE = Code(9503, "服务暂不可用", 503)


def invalid(errors):
    """9400 with Django-style `errors: {field: [messages]}`."""
    return ApiError(MALFORMED, extra={"errors": errors})


def bad_request(message):
    """9400 for a request that is malformed as a whole."""
    return invalid({"request": [message]})


# The database or the cache (Redis) could not be reached, or gave up (SQLite's busy timeout, a
# PostgreSQL deadlock): the same request may well succeed later, so it is a 503, not a 500. The
# limits and captchas kept in the cache raise these too, so they fail closed.
UNREACHABLE = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)


def _validation_errors(error):
    if hasattr(error, "error_dict"):
        return error.message_dict
    return {"request": error.messages}


def error_for(request, exception):
    """The `ApiError` that `exception`, raised while answering `request`, answers as. Logs what
    is not an outcome of the API: an unreachable database or cache, and anything unexpected."""
    if isinstance(exception, UNREACHABLE):
        logger.error("Unavailable on %s %s: %r", request.method, request.path, exception)
        return ApiError(UNAVAILABLE)
    if isinstance(exception, ApiError):
        return exception
    if isinstance(exception, ValidationError):
        return invalid(_validation_errors(exception))
    if isinstance(exception, Http404):
        return ApiError(NO_SUCH_ENDPOINT)
    if isinstance(exception, RequestDataTooBig):
        return ApiError(BODY_TOO_LARGE)
    if isinstance(exception, SuspiciousOperation):
        # Its text may name the server's files (SuspiciousFileOperation quotes the absolute path
        # a `..` reached): the operators read it in the log, under the logger Django itself uses.
        security_logger = logging.getLogger(f"django.security.{type(exception).__name__}")
        security_logger.warning("%s %s: %s", request.method, request.path, exception)
        return bad_request("请求无效。")
    logger.error(
        "Unhandled error on %s %s",
        request.method,
        request.path,
        exc_info=(type(exception), exception, exception.__traceback__),
    )
    return ApiError(SERVER_ERROR)
