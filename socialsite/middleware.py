from socialsite import errors
from socialsite.api import error_response, exception_response
from socialsite.errors import ApiError


class BeforeAndAfter:
    """A middleware in two sync hooks, quick and without I/O: `before(request)` (None, or an
    early response) and `after(request, response)` (the response). Under ASGI too the stack runs
    sync, in the view's thread (socialsite/asgi.py, DjangoInOneThread)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.before(request) or self.after(request, self.get_response(request))

    def before(self, request):
        return None

    def after(self, request, response):
        return response


class BearerTokenMiddleware(BeforeAndAfter):
    """Reads `Authorization: Bearer <token>` into `request.bearer_token`: the key, or None. The
    `@api` decorator looks the key up and decides (9401, 9402), inside the view, so that even
    the token's query failing (the database gone) ends as the JSON envelope."""

    def before(self, request):
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        request.bearer_token = key.strip() if scheme.lower() == "bearer" and key.strip() else None


# HTTP status of a non-JSON error page → the transport code it becomes.
HTML_ERROR_CODES = {
    400: errors.bad_request("请求无效。"),
    403: ApiError(errors.NOT_THE_OWNER),
    404: ApiError(errors.NO_SUCH_ENDPOINT),
    405: ApiError(errors.METHOD_NOT_ALLOWED),
    413: ApiError(errors.BODY_TOO_LARGE),
    500: ApiError(errors.SERVER_ERROR),
}


def is_api_path(path):
    return not path.startswith(("/admin/", "/static/"))


class JsonErrorMiddleware(BeforeAndAfter):
    """Outermost: exceptions from views and middleware (through `exception_response`), and the
    HTML pages Django would otherwise render for 404/500 (DEBUG's technical pages included),
    leave an API path as the JSON envelope."""

    def after(self, request, response):
        error = HTML_ERROR_CODES.get(response.status_code)
        if (
            error
            and is_api_path(request.path)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return error_response(error)
        return response

    def process_exception(self, request, exception):
        if not is_api_path(request.path):
            return None
        return exception_response(request, exception)
