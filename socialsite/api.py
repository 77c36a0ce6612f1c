"""The small JSON-API toolkit every view uses: the envelope, `exception_response` (the one
function that turns any exception into it), parameter reading and the `@api` decorator
(API.md, "Conventions"). The errors themselves are in socialsite/errors.py."""

import functools
import json
import logging
from typing import NamedTuple

import orjson
from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import Resolver404, resolve
from django.utils.cache import patch_cache_control
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt

from socialsite import errors, replicas
from socialsite.errors import ApiError, invalid

logger = logging.getLogger("socialsite.api")


def form_errors(*bound_forms):
    """The errors of every invalid form as `{field: [messages]}`, merged by field."""
    found = {}
    for form in bound_forms:
        if not form.is_valid():
            for field, messages in form.errors.items():
                found.setdefault(field, []).extend(messages)
    return found


def validate(*bound_forms):
    """A `ValidationError` (9400) with the errors of every invalid form, merged by field."""
    found = form_errors(*bound_forms)
    if found:
        raise ValidationError(found)


def json_bytes(data):
    """`data` as UTF-8 JSON, encoded by orjson; what it does not know (a lazy translation, a
    datetime, an integer beyond 64 bits) is encoded by Django's encoder, as JsonResponse did."""
    try:
        return orjson.dumps(
            data, default=DjangoJSONEncoder().default, option=orjson.OPT_PASSTHROUGH_DATETIME
        )
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False).encode()


def envelope(status, msg, *, http_status=200, headers=None, **fields):
    response = HttpResponse(
        json_bytes({"status": status, "msg": msg, **fields}),
        status=http_status,
        content_type="application/json",
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def token_envelope(status, msg, **fields):
    """The envelope of an answer that carries a token (/login, /register2, /forget2): no cache
    along the way may keep it (API.md: `Cache-Control: no-store`)."""
    response = envelope(status, msg, **fields)
    patch_cache_control(response, no_store=True)
    return response


def after_response(response, work):
    """Run `work()` once `response` has been sent: the server closes a response after sending it
    (WSGI and ASGI alike; so does Django's test client), and `work` runs then, before Django's own
    close (its request_finished closes the database connection). What fails in `work` is logged:
    the answer is out already."""
    close = response.close

    def work_then_close():
        try:
            work()
        except Exception:
            logger.exception("The work after a response failed")
        finally:
            close()

    response.close = work_then_close
    return response


def error_response(error):
    """The envelope of an `ApiError`."""
    return envelope(
        error.status,
        error.msg,
        http_status=error.http_status,
        headers=error.headers,
        **error.extra,
    )


def exception_response(request, exception):
    """The envelope that any exception raised while answering `request` ends in: the `@api`
    wrapper, JsonErrorMiddleware and the error handlers of socialsite/views.py all call this."""
    return error_response(errors.error_for(request, exception))


class Params:
    """A request's parameters as strings, with empty strings dropped (they count as missing); the
    endpoint's repeated parameters (`@api`'s `lists`) as lists of strings, read with `getlist`."""

    def __init__(self, data, lists=None):
        self.data = {name: value for name, value in data.items() if value != ""}
        self.lists = {
            name: [value for value in values if value != ""]
            for name, values in (lists or {}).items()
        }

    def get(self, name, default=None):
        return self.data.get(name, default)

    def getlist(self, name):
        """The values of a repeated parameter, in the order sent; [] when there are none."""
        return self.lists.get(name, [])

    def __contains__(self, name):
        return name in self.data

    def require(self, *names, missing):
        """The values of `names`; an `ApiError` of the code `missing` when any is missing."""
        if any(name not in self.data for name in names):
            raise ApiError(missing)
        return tuple(self.data[name] for name in names)

    def clean(self, form_class, **kwargs):
        """Validate with a Django form; 9400 with the form's errors when invalid."""
        form = form_class(data=self.data, **kwargs)
        validate(form)
        return form.cleaned_data


def _scalar(name, value):
    if value is None:
        return ""
    # A boolean is no parameter of the API: `true` must not pass for group, id or time "1".
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise invalid({name: ["应为字符串或数字。"]})


def _strings(name, value):
    """A repeated parameter in a JSON body: an array of strings (null: none)."""
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise invalid({name: ["应为字符串数组。"]})


def _capped_object(pairs):
    """A JSON object of at most DATA_UPLOAD_MAX_NUMBER_FIELDS keys, the cap Django puts on the
    fields of a form body (API.md: 1,000)."""
    cap = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    if cap is not None and len(pairs) > cap:
        raise invalid({"body": [f"JSON 对象的键至多 {cap} 个。"]})
    return dict(pairs)


def _json_object(body):
    try:
        data = json.loads(body or b"{}", object_pairs_hook=_capped_object)
        # A lone surrogate ("\\ud800") is valid JSON but no text: it could be neither stored
        # nor echoed back in UTF-8.
        json.dumps(data, ensure_ascii=False).encode()
    # ValueError: malformed JSON, bad UTF-8, an integer of over 4300 digits, a lone surrogate;
    # RecursionError: nesting deeper than the parser goes.
    except (ValueError, RecursionError) as exc:
        raise invalid({"body": [f"JSON 格式错误：{exc}"]}) from None
    if not isinstance(data, dict):
        raise invalid({"body": ["JSON 请求体应为对象。"]})
    return data


def body_limit(*, takes_images):
    """The largest body an endpoint accepts (API.md, the 413 row)."""
    if takes_images:
        return settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return settings.API_MAX_BODY_SIZE


def check_body_size(request, limit):
    """9413 for a body over `limit`, decided from its Content-Length before a byte of it is read
    (parsing is the cost). Django checks only the non-file part of a multipart body; the API
    reads no files, so the whole body counts. A body without a length (chunked) is refused
    unread: Django would read none of it, and reading it here would cost the server far more
    than its size (gunicorn decodes each chunk in Python: a body of 1-byte chunks)."""
    if "HTTP_TRANSFER_ENCODING" in request.META and not request.META.get("CONTENT_LENGTH"):
        raise invalid({"body": ["请求体须注明长度（Content-Length）。"]})
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if limit is not None and length > limit:
        raise ApiError(errors.BODY_TOO_LARGE)


def refused_unread(path, headers):
    """Whether `@api` will refuse the body of a request to `path` from its head alone (over the
    endpoint's limit, or without a length), for the ASGI server (socialsite/asgi.py): Django's
    ASGI handler reads a whole body before the view runs, so such a body is withheld from it
    instead, and the view answers from the headers as under WSGI. `headers`: the ASGI scope's."""
    fields = dict(headers)
    length = fields.get(b"content-length")
    chunked = b"transfer-encoding" in fields and not length
    if not chunked:
        try:
            length = int(length or 0)
        except ValueError:
            return False
        if length <= min(settings.API_MAX_BODY_SIZE, settings.DATA_UPLOAD_MAX_MEMORY_SIZE):
            return False  # every endpoint takes it: the common case costs no URL resolution
    try:
        takes_images = getattr(resolve(path).func, "api_takes_images", None)
    except Resolver404:
        return False
    if takes_images is None:
        return False  # not an API endpoint (the admin): Django's own limits
    return chunked or length > body_limit(takes_images=takes_images)


def _params_of(query_dict, lists):
    """The parameters of a query string or form body: the repeated ones named in `lists` as
    every value sent (a form repeats the field), the others as their last value."""
    single = {name: value for name, value in query_dict.items() if name not in lists}
    return Params(single, {name: query_dict.getlist(name) for name in lists})


def read_params(request, lists=()):
    """GET reads the query string; POST reads a form body or a JSON object body. The parameters
    named in `lists` are repeated ones: repeated fields in a form, an array of strings in JSON.
    The body's size is `@api`'s to check, first."""
    try:
        if request.method != "POST":
            return _params_of(request.GET, lists)
        if request.content_type == "application/json":
            body = _json_object(request.body)
            repeated = {name: _strings(name, body.pop(name, None)) for name in lists}
            return Params({name: _scalar(name, value) for name, value in body.items()}, repeated)
        return _params_of(request.POST, lists)
    except RequestDataTooBig:
        raise ApiError(errors.BODY_TOO_LARGE) from None
    except TooManyFieldsSent:  # Django counts the fields before it parses them
        cap = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        raise invalid({"body": [f"字段至多 {cap} 个。"]}) from None
    except MultiPartParserError as exc:  # a malformed multipart body: Django's own description
        raise invalid({"body": [str(exc)]}) from None


class PageForm(forms.Form):
    # Bounded so that the OFFSET fits every database's integer (a larger one was a 500).
    start = forms.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    limit = forms.IntegerField(min_value=1, required=False)

    def clean_start(self):
        return self.cleaned_data["start"] or 0

    def clean_limit(self):
        return min(self.cleaned_data["limit"] or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def read_page(params):
    """(start, limit) from `start`/`limit`: defaults 0 and 20, limit clamped to 100."""
    page = params.clean(PageForm)
    return page["start"], page["limit"]


class Page(NamedTuple):
    """One page of a list: its items, and `has_more` (1 when items follow it; API.md, "Paging")."""

    items: list
    has_more: int


def page_of(rows, start, limit):
    """The page [start, start + limit) of `rows` (a queryset, or a list), read with one row more:
    whether that row exists is `has_more`, in the same query, without a COUNT."""
    return page_from(list(rows[start : start + limit + 1]), limit)


def page_from(found, limit):
    """The Page of `found`, the limit + 1 rows read for it (raw SQL's LIMIT): whether the last
    one came is `has_more`."""
    return Page(found[:limit], int(len(found) > limit))


def client_ip(request):
    """The client's address, which the per-address limits count. Behind TRUSTED_PROXIES reverse
    proxies it is the address the outermost of them saw: that many entries from the right of
    X-Forwarded-For (those further left are the client's to forge)."""
    hops = settings.TRUSTED_PROXIES
    if hops:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")
        addresses = [address.strip() for address in forwarded if address.strip()]
        if len(addresses) >= hops:
            return addresses[-hops]
    return request.META.get("REMOTE_ADDR", "")


def authenticate(request):
    """The authenticator that API_AUTHENTICATOR names (accounts.auth.authenticate): the toolkit
    imports no app."""
    return import_string(settings.API_AUTHENTICATOR)(request)


def api(methods=("GET",), *, auth=True, replica_reads=False, takes_images=False, lists=()):
    """Make a function `view(request, params)` an API endpoint: in API.md's check order it
    checks the body's size (9413: API_MAX_BODY_SIZE, or DATA_UPLOAD_MAX_MEMORY_SIZE for a view
    that `takes_images`), the method (9405) and, with `auth`, the Bearer token
    (API_AUTHENTICATOR: 9401, 9402); exempts it from CSRF (no cookie authenticates the API); and
    answers the API's outcomes (`ApiError`, a `ValidationError`) with `exception_response`;
    anything else goes on to JsonErrorMiddleware, which calls it too. Owner checks are the
    view's (accounts.auth.require_owner), because API.md orders them after each endpoint's own
    not-found codes. With `replica_reads` (read-only list endpoints) the view's reads may go to
    a read replica; the token is always checked on the primary, so that a revocation takes
    effect at once. `lists` names the repeated parameters (`params.getlist`: /putPost's
    `images`). A CORS preflight never gets here: CorsMiddleware answers it."""
    allowed = tuple(methods)

    def decorator(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                check_body_size(request, body_limit(takes_images=takes_images))
                if request.method not in allowed:
                    raise ApiError(errors.METHOD_NOT_ALLOWED, headers={"Allow": ", ".join(allowed)})
                if auth:
                    authenticate(request)
                params = read_params(request, lists)
                with replicas.reads_from_replica(enabled=replica_reads):
                    return view(request, params, *args, **kwargs)
            except (ApiError, ValidationError) as outcome:
                return exception_response(request, outcome)

        wrapper.api_takes_images = takes_images  # read by refused_unread
        return wrapper

    return decorator
