import logging

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from socialsite.api import ApiError, error_response, transport_error

logger = logging.getLogger("socialsite.api")


class BearerTokenMiddleware:
    """Reads `Authorization: Bearer <token>` into `request.bearer_token`: the key, or None. The
    `@api` decorator looks the key up and decides (9401, 9402), inside the view, so that even
    the token's query failing (the database gone) ends as the JSON envelope."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        request.bearer_token = key.strip() if scheme.lower() == "bearer" and key.strip() else None
        return self.get_response(request)


# HTTP status of a non-JSON error page → the 9xxx code it becomes.
HTML_ERROR_STATUSES = {400: 9400, 403: 9403, 404: 9404, 405: 9405, 413: 9413, 500: 9500}


def is_api_path(path):
    return not path.startswith(("/admin/", "/static/"))


class JsonErrorMiddleware:
    """The one place where errors become the JSON envelope: exceptions from views, and the HTML
    pages Django would otherwise render for 404/500 (DEBUG's technical pages included)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        status = HTML_ERROR_STATUSES.get(response.status_code)
        if (
            status
            and is_api_path(request.path)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            extra = {"errors": {"request": ["请求无效。"]}} if status == 9400 else None
            return error_response(transport_error(status, extra=extra))
        return response

    def process_exception(self, request, exception):
        if not is_api_path(request.path):
            return None
        return error_response(exception_to_error(request, exception))


# The database or the cache (Redis) could not be reached, or gave up (SQLite's busy timeout, a
# PostgreSQL deadlock): the same request may well succeed later, so it is a 503, not a 500. The
# limits and captchas kept in the cache raise these too, so they fail closed.
UNAVAILABLE = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)


def exception_to_error(request, exception):
    if isinstance(exception, UNAVAILABLE):
        logger.error("Unavailable on %s %s: %r", request.method, request.path, exception)
        return transport_error(9503)
    if isinstance(exception, ApiError):
        return exception
    if isinstance(exception, Http404):
        return transport_error(9404)
    if isinstance(exception, RequestDataTooBig):
        return transport_error(9413)
    if isinstance(exception, SuspiciousOperation):
        return transport_error(9400, extra={"errors": {"request": [str(exception)]}})
    logger.exception("Unhandled error on %s %s", request.method, request.path)
    return transport_error(9500)
