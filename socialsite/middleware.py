from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from whitenoise.middleware import WhiteNoiseMiddleware

from socialsite import errors
from socialsite.api import error_response, exception_response
from socialsite.errors import ApiError


class SyncAndAsync:
    """A middleware that runs in whichever mode Django calls it (Django's "Asynchronous support"):
    under ASGI every middleware of the stack is async, so that a request crosses to a thread once,
    for its (sync) view. A subclass defines `before(request)` (None, or an early response) and
    `after(request, response)` (the response), both sync and quick: no I/O."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        return self.before(request) or self.after(request, self.get_response(request))

    async def __acall__(self, request):
        early = self.before(request)
        if early is not None:
            return early
        return self.after(request, await self.get_response(request))

    def before(self, request):
        return None

    def after(self, request, response):
        return response


class BearerTokenMiddleware(SyncAndAsync):
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


class JsonErrorMiddleware(SyncAndAsync):
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


class StaticFilesMiddleware(SyncAndAsync, WhiteNoiseMiddleware):
    """WhiteNoise (the static files of the admin and /docs), which is sync only, made async
    capable, so that it does not split the ASGI stack in two thread crossings. Its look-up is a
    dict's (or, with WHITENOISE_AUTOREFRESH in tests, a search of the finders: then in a
    thread); serving returns a file response that Django's handler streams."""

    def __init__(self, get_response):
        WhiteNoiseMiddleware.__init__(self, get_response)
        SyncAndAsync.__init__(self, get_response)

    def __call__(self, request):
        if self.async_mode:
            return self.__acall__(request)
        return WhiteNoiseMiddleware.__call__(self, request)

    async def __acall__(self, request):
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return self.serve(static_file, request)
        return await self.get_response(request)
