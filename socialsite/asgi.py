"""The ASGI application (`make run`: gunicorn with uvicorn workers): HTTP goes to Django, the
WebSocket /ws to the one consumer the WEBSOCKET_CONSUMER setting names (socialsite/ imports no
app), any other WebSocket path is refused (HTTP 403)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "socialsite.settings")

# Django first: it sets the apps up before the consumer's module (and its models) is imported.
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

WEBSOCKET_PATH = "/ws"


def websocket_router(consumer):
    async def route(scope, receive, send):
        if scope["path"] == WEBSOCKET_PATH:
            await consumer(scope, receive, send)
            return
        # Refused before the handshake completes: the client sees HTTP 403.
        await receive()  # websocket.connect
        await send({"type": "websocket.close"})

    return route


application = ProtocolTypeRouter(
    {
        "http": django_application,
        "websocket": websocket_router(import_string(settings.WEBSOCKET_CONSUMER).as_asgi()),
    }
)
