"""Faults (issue 8): the database or the cache cannot be reached — every endpoint answers JSON
503/9503, the cache-backed security checks fail closed, and the site recovers by itself — and a
multi-row write that fails midway leaves nothing behind."""

import contextlib
import json
import socket

import psycopg
import pytest
from django.core import signing
from django.core.handlers.wsgi import WSGIHandler
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.utils import load_backend
from django.test import RequestFactory
from django.urls import get_resolver

from accounts.services import RID_SALT
from feed.models import Post
from tests.conftest import PASSWORD, ApiClient

UNAVAILABLE = {"status": 9503, "msg": "服务暂不可用"}


def routed_api_paths():
    """Every path of the project's API: the apps' includes and /healthz (not the admin, media)."""
    paths = set()
    for pattern in get_resolver().url_patterns:
        route = str(pattern.pattern)
        if hasattr(pattern, "url_patterns"):
            if route == "":
                paths.update(str(nested.pattern) for nested in pattern.url_patterns)
        elif not route.startswith("^media"):
            paths.add(route)
    return paths


def closed_port():
    """A local port nothing listens on: the kernel's pick, released at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_unavailable(response):
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json() == UNAVAILABLE


# Database down


def signup_rid(email):
    return signing.dumps({"email": email}, salt=RID_SALT)


# path -> (method, parameters that make the endpoint reach the database)
DATABASE_CALLS = {
    "healthz": ("get", {}),
    "register1": ("post", {"email": "new@example.com"}),
    "check_email": ("post", {"email": "new@example.com", "value": "123456"}),
    "register2": (
        "post",
        {"email": "new@example.com", "rid": signup_rid("new@example.com"), "pass": PASSWORD},
    ),
    "get_yzm": ("get", {"uuid": "device-1"}),
    "login": ("post", {"email": "alice@example.com", "pass": PASSWORD}),
    "logout": ("post", {}),
    "reset": ("post", {"email": "alice@example.com", "name": "A"}),
    "get_info": ("get", {"email": "alice@example.com"}),
    "set_friend": ("get", {"email": "alice@example.com", "femail": "b@example.com", "group": "1"}),
    "rm_friend": ("get", {"email": "alice@example.com", "femail": "b@example.com"}),
    "get_friends": ("get", {"email": "alice@example.com"}),
    "is_friend": ("get", {"email": "alice@example.com", "femail": "b@example.com"}),
    "block": ("post", {"email": "alice@example.com", "femail": "b@example.com"}),
    "unblock": ("post", {"email": "alice@example.com", "femail": "b@example.com"}),
    "get_data": ("get", {"email": "alice@example.com", "start": "0", "limit": "10"}),
    "recommend": ("get", {"email": "alice@example.com"}),
    "putPost": ("post", {"email": "alice@example.com", "message": "hi", "time": "1"}),
    "getPost": ("get", {"oldTime": "0"}),
    "delPost": ("get", {"email": "alice@example.com", "id": "1"}),
    "comment": ("post", {"email": "alice@example.com", "id": "1", "comment": "hi"}),
    "get_comments": ("get", {"id": "1"}),
    "get_friend_post": ("get", {"email": "alice@example.com"}),
    "report": ("post", {"email": "alice@example.com", "post": "1", "reason": "spam"}),
}


def test_every_endpoint_is_tried_with_the_database_down():
    assert set(DATABASE_CALLS) == routed_api_paths()


def uses_redis(settings):
    return settings.CACHES["default"]["BACKEND"].endswith("RedisCache")


@contextlib.contextmanager
def database_unreachable():
    """Within the block the primary database is a PostgreSQL server at a closed port, as if its
    server had gone away (whatever database the suite runs on)."""
    reachable = connections[DEFAULT_DB_ALIAS]
    wrapper_class = load_backend("django.db.backends.postgresql").DatabaseWrapper
    connections[DEFAULT_DB_ALIAS] = wrapper_class(
        {
            **reachable.settings_dict,
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "socialsite",
            "USER": "postgres",
            "PASSWORD": "",
            "HOST": "127.0.0.1",
            "PORT": closed_port(),
            "OPTIONS": {},
        },
        DEFAULT_DB_ALIAS,
    )
    try:
        yield
    finally:
        connections[DEFAULT_DB_ALIAS] = reachable


@pytest.mark.parametrize("path", sorted(DATABASE_CALLS))
def test_database_down_is_a_json_503_on_every_endpoint(api, path, settings, caplog):
    method, params = DATABASE_CALLS[path]
    client = ApiClient(api.token)
    with database_unreachable():
        response = getattr(client, method)(f"/{path}", params)
    if path == "healthz":
        assert response.status_code == 503
        # The default cache is a table of the same database.
        cache_state = "ok" if uses_redis(settings) else "error"
        assert response.json() == {**UNAVAILABLE, "db": "error", "cache": cache_state}
    elif path == "get_yzm" and uses_redis(settings):
        assert response.json()["status"] == 2000  # the captcha needs only the cache
    else:
        assert_unavailable(response)
        assert "Unavailable on" in caplog.text  # logged for the operators
    assert b"Traceback" not in response.content


@pytest.mark.django_db(transaction=True)
def test_requests_succeed_again_once_the_database_is_back(api, tmp_path):
    """The same connection, pointed away from its server and back, without a restart."""
    settings_dict = connection.settings_dict
    key = "NAME" if connection.vendor == "sqlite" else "PORT"
    gone = str(tmp_path / "no-such-dir" / "db.sqlite3") if key == "NAME" else closed_port()
    real = settings_dict[key]
    connection.close()
    settings_dict[key] = gone
    try:
        assert_unavailable(api.get("/get_info", {"email": "alice@example.com"}))
        assert_unavailable(
            api.post("/putPost", {"email": "alice@example.com", "message": "x", "time": "1"})
        )
    finally:
        connection.close()
        settings_dict[key] = real
    assert api.get("/get_info", {"email": "alice@example.com"}).json()["status"] == 6001
    response = api.post("/putPost", {"email": "alice@example.com", "message": "back", "time": "2"})
    assert response.json()["status"] == 3001
    assert list(Post.objects.values_list("msg", flat=True)) == ["back"]


def call_wsgi(path, query, token):
    """One request through Django's WSGI handler, as gunicorn makes it, with the signals that
    open and close database connections (the test client leaves those out)."""
    environ = RequestFactory().get(path, query, HTTP_AUTHORIZATION=f"Bearer {token}").environ
    response = WSGIHandler()(environ, lambda status, headers: None)
    try:
        return json.loads(b"".join(response))
    finally:
        response.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    "postgresql" not in connection.settings_dict["ENGINE"],
    reason="SQLite has no server connection that could be dropped",
)
def test_a_dropped_persistent_connection_is_replaced_by_the_health_check(api, settings):
    assert connection.settings_dict["CONN_HEALTH_CHECKS"]
    assert connection.settings_dict["CONN_MAX_AGE"] > 0
    query = {"email": "alice@example.com"}
    assert call_wsgi("/get_info", query, api.token)["status"] == 6001
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (dropped_pid,) = cursor.fetchone()
    # Another session ends this one, as a database restart or failover does.
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [dropped_pid])
    assert call_wsgi("/get_info", query, api.token)["status"] == 6001
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != dropped_pid
