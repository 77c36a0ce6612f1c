from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

from socialsite import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("openapi.json", views.openapi_json, name="openapi"),
    path("docs", views.api_docs, name="api_docs"),
    path("", include("accounts.urls")),
    path("", include("friends.urls")),
    path("", include("feed.urls")),
    path("", include("chat.urls")),
    path("", include("notices.urls")),
]


def serve_media(request, path):
    # MEDIA_ROOT is read per request, not at import, so that it can be overridden (tests).
    return serve(request, path, document_root=settings.MEDIA_ROOT)


if settings.SERVE_MEDIA:
    media_prefix = settings.MEDIA_URL.strip("/")
    urlpatterns.append(re_path(rf"^{media_prefix}/(?P<path>.+)$", serve_media))

# Errors raised outside a view (a bad Host header, a failing middleware) still answer JSON.
handler400 = "socialsite.views.bad_request"
handler403 = "socialsite.views.forbidden"
handler404 = "socialsite.views.not_found"
handler500 = "socialsite.views.server_error"
