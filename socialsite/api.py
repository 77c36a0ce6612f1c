"""The small JSON-API toolkit every view uses: the envelope, the one domain exception type, the
9xxx transport errors, parameter reading and the `@api` decorator (API.md, "Conventions")."""

import functools
import json

from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from socialsite import replicas


class ApiError(Exception):
    """A business or transport outcome that ends the request: `status` and `msg` go into the
    envelope, `extra` is merged into it, `http_status` and `headers` into the HTTP response."""

    def __init__(self, status, msg, *, http_status=200, extra=None, headers=None):
        super().__init__(f"{status} {msg}")
        self.status = status
        self.msg = msg
        self.http_status = http_status
        self.extra = extra or {}
        self.headers = headers or {}


# code: (HTTP status, msg) — the transport-level table of API.md.
TRANSPORT_ERRORS = {
    9400: (400, "参数格式错误"),
    9401: (401, "请先登录"),
    9402: (403, "账号已被封禁"),
    9403: (403, "无权操作其他用户"),
    9404: (404, "接口不存在"),
    9405: (405, "请求方法不允许"),
    9413: (413, "请求体过大"),
    9429: (429, "请求过于频繁"),
    9500: (500, "服务器内部错误"),
    9503: (503, "服务暂不可用"),
}


def transport_error(status, *, extra=None, headers=None):
    http_status, msg = TRANSPORT_ERRORS[status]
    return ApiError(status, msg, http_status=http_status, extra=extra, headers=headers)


def invalid(errors):
    """9400 with Django-style `errors: {field: [messages]}`."""
    return transport_error(9400, extra={"errors": errors})


def form_errors(*bound_forms):
    """The errors of every invalid form as `{field: [messages]}`, merged by field."""
    errors = {}
    for form in bound_forms:
        if not form.is_valid():
            for field, messages in form.errors.items():
                errors.setdefault(field, []).extend(messages)
    return errors


def validate(*bound_forms):
    """9400 with the errors of every invalid form, merged by field."""
    errors = form_errors(*bound_forms)
    if errors:
        raise invalid(errors)


def envelope(status, msg, *, http_status=200, headers=None, **fields):
    response = JsonResponse(
        {"status": status, "msg": msg, **fields},
        status=http_status,
        json_dumps_params={"ensure_ascii": False},
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(error):
    return envelope(
        error.status,
        error.msg,
        http_status=error.http_status,
        headers=error.headers,
        **error.extra,
    )


class Params:
    """A request's parameters as strings, with empty strings dropped (they count as missing)."""

    def __init__(self, data):
        self.data = {name: value for name, value in data.items() if value != ""}

    def get(self, name, default=None):
        return self.data.get(name, default)

    def __contains__(self, name):
        return name in self.data

    def require(self, *names, error):
        """The values of `names`, or `error` when any is missing."""
        if any(name not in self.data for name in names):
            raise error
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


def _json_object(body):
    try:
        data = json.loads(body or b"{}")
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


def _check_body_size(request):
    """9413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE. Django checks only the non-file part of a
    multipart body; the API reads no files, so the whole body counts."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if limit is not None and length > limit:
        raise transport_error(9413)


def read_params(request):
    """GET reads the query string; POST reads a form body or a JSON object body."""
    if request.method != "POST":
        return Params(request.GET.dict())
    _check_body_size(request)
    try:
        if request.content_type == "application/json":
            body = _json_object(request.body)
            return Params({name: _scalar(name, value) for name, value in body.items()})
        return Params(request.POST.dict())
    except RequestDataTooBig:
        raise transport_error(9413) from None
    except (SuspiciousOperation, MultiPartParserError) as exc:  # too many fields, bad multipart
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


def api(methods=("GET",), *, auth=True, replica_reads=False):
    """Make a function `view(request, params)` an API endpoint: it checks the method (9405) and,
    with `auth`, the Bearer token (9401, 9402); exempts it from CSRF (no cookie authenticates
    the API); and turns an `ApiError` into the envelope. Owner checks are the view's, through
    `require_owner`, because API.md orders them after each endpoint's own not-found codes.
    With `replica_reads` (read-only list endpoints) the view's reads may go to a read replica;
    the token is always checked on the primary, so that a revocation takes effect at once."""
    allowed = tuple(methods)

    def decorator(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                if request.method not in allowed:
                    raise transport_error(9405, headers={"Allow": ", ".join(allowed)})
                if auth:
                    authenticate(request)
                params = read_params(request)
                with replicas.reads_from_replica(replica_reads):
                    return view(request, params, *args, **kwargs)
            except ApiError as error:
                return error_response(error)

        return wrapper

    return decorator


def authenticate(request):
    """Set `request.api_token` and `request.api_user` from the key BearerTokenMiddleware read.
    The token is looked up here, inside the view, so that a database that cannot be reached
    ends in the one error mapping (9503) like any other failure of the request."""
    from accounts.models import AuthToken

    key = request.bearer_token
    token = AuthToken.objects.find(key) if key else None
    if token is None:
        raise transport_error(9401)
    request.api_token = token
    if not token.user.is_active:
        raise transport_error(9402)
    if not token.is_usable():
        raise transport_error(9401)
    token.touch()
    request.api_user = token.user


def require_owner(request, email, *, unknown):
    """The caller when `email` names them; `unknown` when it names nobody; 9403 otherwise."""
    from accounts.models import User, normalize_email

    caller = request.api_user
    if normalize_email(email) == caller.email:
        return caller
    if not User.objects.with_email(email).exists():
        raise unknown
    raise transport_error(9403)
