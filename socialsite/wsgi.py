import io
import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "socialsite.settings")


class ChunkedBodyLength:
    """Gives a chunked body (sent without a Content-Length) the length it has, read here up to
    one byte over the largest body any endpoint accepts. Django would read nothing of such a body,
    the API would see none of its parameters; now `@api` decides from the length as for any
    other body, and one over every limit is refused (413) for its length, unparsed and unread
    past that byte."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        # wsgi.input_terminated: the server (gunicorn) ends the stream where the body ends, so a
        # read cannot wait on the client; a server without it (runserver) is left alone.
        if (
            environ.get("wsgi.input_terminated")
            and environ.get("HTTP_TRANSFER_ENCODING")
            and not environ.get("CONTENT_LENGTH")
        ):
            largest = max(settings.API_MAX_BODY_SIZE, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
            body = environ["wsgi.input"].read(largest + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.application(environ, start_response)


application = ChunkedBodyLength(get_wsgi_application())
