import logging
import sys

from django.core.cache import cache
from django.db import connection
from django.http import Http404, HttpResponse
from django.shortcuts import render

from socialsite import errors, openapi, realtime
from socialsite.api import api, envelope, exception_response
from socialsite.errors import ApiError

logger = logging.getLogger("socialsite.api")


@api(("GET",), auth=False)
def healthz(request, params):
    checks = {"db": _check(_database_answers), "cache": _check(_cache_answers)}
    # The channel layer alone failing leaves the HTTP API working (API.md): still 200.
    channels = _check(realtime.layer_answers)
    if all(state == "ok" for state in checks.values()):
        return envelope(0, "ok", **checks, channels=channels)
    return envelope(
        errors.UNAVAILABLE.status,
        errors.UNAVAILABLE.msg,
        http_status=503,
        **checks,
        channels=channels,
    )


@api(("GET",), auth=False)
def openapi_json(request, params):
    return HttpResponse(openapi.document_json(), content_type="application/json")


@api(("GET",), auth=False)
def api_docs(request, params):
    """Swagger UI over /openapi.json, from static files the site serves itself."""
    return render(request, "socialsite/docs.html")


def _check(probe):
    try:
        probe()
    except Exception:
        logger.exception("Health check %s failed", probe.__name__)
        return "error"
    return "ok"


def _database_answers():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache_answers():
    cache.set("healthz", "ok", 10)
    if cache.get("healthz") != "ok":
        raise RuntimeError("cache did not return what was stored")


# Django's error handlers (socialsite/urls.py), for what fails outside a view (a bad Host header,
# a failing middleware): each answers through exception_response, as the views do.


def bad_request(request, exception=None):
    return exception_response(request, errors.bad_request("请求无效。"))


def forbidden(request, exception=None):
    return exception_response(request, ApiError(errors.NOT_THE_OWNER))


def not_found(request, exception=None):
    return exception_response(request, Http404())


def server_error(request):
    # Django calls this while it handles the exception, which is therefore still at hand.
    return exception_response(request, sys.exc_info()[1])
