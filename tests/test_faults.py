"""Faults (issue 8): the database or the cache cannot be reached — every endpoint answers JSON
503/9503, the cache-backed security checks fail closed, and the site recovers by itself — and a
multi-row write that fails midway leaves nothing behind."""

import contextlib
import json
import shutil
import socket
import subprocess
import time

import psycopg
import pytest
from django.core import signing
from django.core.handlers.wsgi import WSGIHandler
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models.signals import post_delete
from django.db.utils import load_backend
from django.test import RequestFactory
from django.utils import timezone

from accounts.models import AuthToken, EmailCode, PasswordResetCode, User
from accounts.queries import token_named_by
from accounts.services import CODE_TTL, RID_SALT
from chat.models import Message
from feed.models import Comment, Post, Report
from friends.models import Block, Friendship
from tests.factories import (
    PASSWORD,
    ApiClient,
    befriend,
    body,
    make_comments,
    make_friends,
    make_messages,
    make_post,
    routed_api_paths,
)

UNAVAILABLE = {"status": 9503, "msg": "服务暂不可用"}
ALICE, BOB = "alice@example.com", "bob@example.com"


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


def signed_rid(email):
    """A rid as /check_email signs it, for `email`, without going through the email code."""
    return signing.dumps({"email": email}, salt=RID_SALT)


# path -> (method, parameters that make the endpoint reach the database)
DATABASE_CALLS = {
    "healthz": ("get", {}),
    "register1": ("post", {"email": "new@example.com"}),
    "check_email": ("post", {"email": "new@example.com", "value": "123456"}),
    "register2": (
        "post",
        {"email": "new@example.com", "rid": signed_rid("new@example.com"), "pass": PASSWORD},
    ),
    "get_yzm": ("get", {"uuid": "device-1"}),
    "login": ("post", {"email": ALICE, "pass": PASSWORD}),
    "logout": ("post", {}),
    "forget1": ("post", {"email": ALICE}),
    "forget2": ("post", {"email": ALICE, "value": "123456", "pass": PASSWORD}),
    "delete_account": ("post", {"email": ALICE, "pass": PASSWORD}),
    "reset": ("post", {"email": ALICE, "name": "A"}),
    "get_info": ("get", {"email": ALICE}),
    "set_friend": ("get", {"email": ALICE, "femail": "b@example.com", "group": "1"}),
    "rm_friend": ("get", {"email": ALICE, "femail": "b@example.com"}),
    "get_friends": ("get", {"email": ALICE}),
    "is_friend": ("get", {"email": ALICE, "femail": "b@example.com"}),
    "get_followers": ("get", {"email": ALICE}),
    "get_blocks": ("get", {"email": ALICE}),
    "block": ("post", {"email": ALICE, "femail": "b@example.com"}),
    "unblock": ("post", {"email": ALICE, "femail": "b@example.com"}),
    "get_data": ("get", {"email": ALICE, "start": "0", "limit": "10"}),
    "recommend": ("get", {"email": ALICE}),
    "putPost": ("post", {"email": ALICE, "message": "hi", "time": "1"}),
    "getPost": ("get", {"oldTime": "0"}),
    "delPost": ("get", {"email": ALICE, "id": "1"}),
    "get_post_detail": ("get", {"id": "1"}),
    "like": ("post", {"email": ALICE, "id": "1"}),
    "unlike": ("post", {"email": ALICE, "id": "1"}),
    "comment": ("post", {"email": ALICE, "id": "1", "comment": "hi"}),
    "delComment": ("post", {"email": ALICE, "id": "1"}),
    "get_comments": ("get", {"id": "1"}),
    "get_friend_post": ("get", {"email": ALICE}),
    "report": ("post", {"email": ALICE, "post": "1", "reason": "spam"}),
    "send_msg": ("post", {"email": ALICE, "femail": BOB, "msg": "hi"}),
    "get_msgs": ("get", {"email": ALICE, "femail": BOB}),
    "get_chats": ("get", {"email": ALICE}),
    "read_msgs": ("post", {"email": ALICE, "femail": BOB, "id": "1"}),
    "recall_msg": ("post", {"email": ALICE, "id": "1"}),
    "get_notices": ("get", {"email": ALICE}),
    "read_notices": ("post", {"email": ALICE}),
    "get_badges": ("get", {"email": ALICE}),
}


# The API's own description needs no database: it keeps answering while the database is down.
WITHOUT_DATABASE = {"openapi.json": "application/json", "docs": "text/html"}


def test_every_endpoint_is_tried_with_the_database_down():
    assert set(DATABASE_CALLS) | set(WITHOUT_DATABASE) == routed_api_paths()


@pytest.mark.parametrize("path", sorted(WITHOUT_DATABASE))
def test_the_api_description_is_served_with_the_database_down(anon, path):
    with database_unreachable():
        response = anon.get(f"/{path}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(WITHOUT_DATABASE[path])


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
    with database_unreachable():
        response = getattr(api, method)(f"/{path}", params)
    if path == "healthz":
        assert response.status_code == 503
        # The default cache is a table of the same database.
        cache_state = "ok" if uses_redis(settings) else "error"
        assert response.json() == {
            **UNAVAILABLE,
            "db": "error",
            "cache": cache_state,
            "channels": "ok",
        }
    elif path == "get_yzm" and uses_redis(settings):
        assert response.json()["status"] == 2000  # the captcha needs only the cache
    else:
        assert_unavailable(response)
        assert "Unavailable on" in caplog.text  # logged for the operators
    assert b"Traceback" not in response.content


def test_database_down_the_admin_answers_503_too(client, superuser):
    """Outside the API the exception reaches Django's handler500, which tells it apart as well."""
    client.force_login(superuser)
    client.raise_request_exception = False
    with database_unreachable():
        response = client.get("/admin/accounts/user/")
    assert_unavailable(response)


def reconnect():
    """Close this thread's connection and, on PostgreSQL, its process's pool: the next query
    connects with the settings as they are then."""
    connection.close()
    if "pool" in connection.settings_dict["OPTIONS"]:
        connection.close_pool()


@pytest.mark.django_db(transaction=True)
def test_requests_succeed_again_once_the_database_is_back(api, tmp_path):
    """The same connection (on PostgreSQL, the same pool settings), pointed away from its server
    and back, without a restart."""
    settings_dict = connection.settings_dict
    key = "NAME" if connection.vendor == "sqlite" else "PORT"
    gone = str(tmp_path / "no-such-dir" / "db.sqlite3") if key == "NAME" else closed_port()
    real, real_options = settings_dict[key], settings_dict["OPTIONS"]
    if "pool" in real_options:  # the pool waits this long for a connection it cannot make
        settings_dict["OPTIONS"] = {**real_options, "pool": {**real_options["pool"], "timeout": 1}}
    reconnect()
    settings_dict[key] = gone
    try:
        assert_unavailable(api.get("/get_info", {"email": ALICE}))
        assert_unavailable(api.post("/putPost", {"email": ALICE, "message": "x", "time": "1"}))
    finally:
        settings_dict[key], settings_dict["OPTIONS"] = real, real_options
        reconnect()
    assert api.get("/get_info", {"email": ALICE}).json()["status"] == 6001
    response = api.post("/putPost", {"email": ALICE, "message": "back", "time": "2"})
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
def test_a_dropped_pooled_connection_is_replaced_by_the_health_check(api):
    assert connection.settings_dict["CONN_HEALTH_CHECKS"]
    assert connection.settings_dict["OPTIONS"]["pool"]
    query = {"email": ALICE}
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


# Cache down


def redis_cache(port, **options):
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            **options,
        }
    }


@pytest.fixture
def cache_down(settings):
    """The cache is a Redis server at a closed port."""
    settings.CACHES = redis_cache(closed_port())


# path -> (method, parameters, status): the endpoints that need no cache keep working without it.
# "{post}" is bob's post, "{own_post}" one of alice's, "{comment}" a comment of hers on it.
CACHE_FREE_CALLS = {
    "check_email": ("post", {"email": "new@example.com", "value": "123456"}, 1003),
    "register2": (
        "post",
        {"email": "new@example.com", "rid": signed_rid("new@example.com"), "pass": PASSWORD},
        1005,
    ),
    "logout": ("post", {}, 1012),
    "reset": ("post", {"email": ALICE, "name": "Alice L."}, 1002),
    "get_info": ("get", {"email": BOB}, 6001),
    "set_friend": ("get", {"email": ALICE, "femail": BOB, "group": "1"}, 5003),
    "rm_friend": ("get", {"email": ALICE, "femail": BOB}, 5004),
    "get_friends": ("get", {"email": ALICE}, 6001),
    "is_friend": ("get", {"email": ALICE, "femail": BOB}, 6001),
    "get_followers": ("get", {"email": ALICE}, 6001),
    "get_blocks": ("get", {"email": ALICE}, 6001),
    "block": ("post", {"email": ALICE, "femail": BOB}, 5005),
    "unblock": ("post", {"email": ALICE, "femail": BOB}, 5006),
    "get_data": ("get", {"email": ALICE, "start": "0", "limit": "10", "like": "x"}, 1008),
    "recommend": ("get", {"email": ALICE}, 1008),
    "putPost": ("post", {"email": ALICE, "message": "hi", "time": "1"}, 3001),
    "getPost": ("get", {"oldTime": "0"}, 3002),
    "delPost": ("get", {"email": ALICE, "id": "{own_post}"}, 3005),
    "get_post_detail": ("get", {"id": "{post}"}, 3002),
    "like": ("post", {"email": ALICE, "id": "{post}"}, 3008),
    "unlike": ("post", {"email": ALICE, "id": "{post}"}, 3009),
    "comment": ("post", {"email": ALICE, "id": "{post}", "comment": "hi"}, 3007),
    "delComment": ("post", {"email": ALICE, "id": "{comment}"}, 3010),
    "get_comments": ("get", {"id": "{post}"}, 3002),
    "get_friend_post": ("get", {"email": ALICE}, 3002),
    "report": ("post", {"email": ALICE, "post": "{post}", "reason": "spam"}, 7001),
    "get_notices": ("get", {"email": ALICE}, 7002),
    "read_notices": ("post", {"email": ALICE}, 7003),
    "get_badges": ("get", {"email": ALICE}, 7002),
}
# The chat's endpoints need no cache either: the send limit, like the post limit, is no security
# check (socialsite.ratelimit.ActionLimit) and lets messages through while the cache is down.
# alice and bob are mutual friends; "{message}" is one of alice's messages to bob.
CHAT_CACHE_FREE_CALLS = {
    "send_msg": ("post", {"email": ALICE, "femail": BOB, "msg": "hi", "client_id": "c"}, 8001),
    "get_msgs": ("get", {"email": ALICE, "femail": BOB, "after_id": "0"}, 8005),
    "get_chats": ("get", {"email": ALICE}, 8005),
    "read_msgs": ("post", {"email": ALICE, "femail": BOB, "id": "{message}"}, 8006),
    "recall_msg": ("post", {"email": ALICE, "id": "{message}"}, 8007),
    "report": ("post", {"email": ALICE, "message": "{message}", "reason": "spam"}, 7001),
}
# The endpoints whose security checks live in the cache (captcha, rate limits, failure counts).
CACHE_GUARDED_CALLS = {
    "get_yzm": ("get", {"uuid": "device-1"}),
    "login": ("post", {"email": ALICE, "pass": PASSWORD}),
    "register1": ("post", {"email": "new@example.com"}),
    "forget1": ("post", {"email": ALICE}),
    "forget2": ("post", {"email": ALICE, "value": "123456", "pass": "a-new-long-passphrase"}),
    "delete_account": ("post", {"email": ALICE, "pass": PASSWORD}),
}


def test_every_endpoint_is_tried_with_the_cache_down():
    tried = set(CACHE_FREE_CALLS) | set(CHAT_CACHE_FREE_CALLS) | set(CACHE_GUARDED_CALLS)
    tried |= {"healthz"}
    assert tried | set(WITHOUT_DATABASE) == routed_api_paths()


@pytest.mark.parametrize("path", sorted(WITHOUT_DATABASE))
def test_the_api_description_is_served_with_the_cache_down(anon, cache_down, path):
    response = anon.get(f"/{path}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(WITHOUT_DATABASE[path])


@pytest.mark.parametrize("path", sorted(CACHE_FREE_CALLS))
def test_cache_down_other_endpoints_keep_working(api, user, bob_post, cache_down, path):
    method, params, status = CACHE_FREE_CALLS[path]
    own_post = make_post(user)
    (comment,) = make_comments(own_post, user, 1)
    ids = {"post": bob_post.pk, "own_post": own_post.pk, "comment": comment.pk}
    params = {name: value.format(**ids) for name, value in params.items()}
    response = getattr(api, method)(f"/{path}", params)
    assert response.status_code == 200
    assert response.json()["status"] == status


@pytest.mark.parametrize("path", sorted(CHAT_CACHE_FREE_CALLS))
def test_cache_down_the_chat_keeps_working(api, user, bob, client_for, cache_down, path):
    make_friends(user, bob)
    (received,) = make_messages(bob, user, 1)
    (sent,) = make_messages(user, bob, 1)
    message = received if path == "report" else sent
    method, params, status = CHAT_CACHE_FREE_CALLS[path]
    params = {name: value.format(message=message.pk) for name, value in params.items()}
    response = getattr(api, method)(f"/{path}", params)
    assert response.status_code == 200
    assert response.json()["status"] == status
    if path == "send_msg":  # stored, and a retry finds it
        assert body(getattr(api, method)(f"/{path}", params))["data"]["msg"] == "hi"
        assert Message.objects.filter(client_id="c").count() == 1


def test_cache_down_healthz_names_the_cache(anon, db, cache_down):
    response = anon.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {**UNAVAILABLE, "db": "ok", "cache": "error", "channels": "ok"}


@pytest.mark.parametrize("login_captcha", ["after_failures", "always"])
def test_cache_down_login_is_refused_not_let_through(
    anon, user, cache_down, settings, login_captcha
):
    settings.LOGIN_CAPTCHA = login_captcha
    for password in (PASSWORD, "wrong-password"):
        attempt = {"email": ALICE, "pass": password, "uuid": "device-1", "val": "ABCD"}
        assert_unavailable(anon.post("/login", attempt))
    assert not AuthToken.objects.filter(user=user).exists()


def test_cache_down_no_captcha_is_issued(anon, db, cache_down):
    assert_unavailable(anon.get("/get_yzm", {"uuid": "device-1"}))


def test_cache_down_no_signup_code_is_sent(anon, db, cache_down, mailoutbox):
    assert_unavailable(anon.post("/register1", {"email": "new@example.com"}))
    assert not EmailCode.objects.exists()
    assert mailoutbox == []


def test_cache_down_no_reset_code_is_sent_or_spent(anon, user, cache_down, mailoutbox):
    """The code limits live in the cache: without it no code is mailed, and the right code
    changes nothing (it stays usable for when the cache is back)."""
    assert_unavailable(anon.post("/forget1", {"email": ALICE}))
    assert mailoutbox == []
    PasswordResetCode.objects.create(
        user=user,
        code_hash=PasswordResetCode.hash_code(ALICE, "123456"),
        expires_at=timezone.now() + CODE_TTL,
    )
    reset = {"email": ALICE, "value": "123456", "pass": "a-new-long-passphrase"}
    assert_unavailable(anon.post("/forget2", reset))
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert PasswordResetCode.objects.get().failed_attempts == 0


def test_cache_down_password_change_is_refused(api, user, cache_down):
    """Wrong `old_pass` tries are counted in the cache: without it no try is made at all."""
    for old_password in (PASSWORD, "wrong-password"):
        response = api.post(
            "/reset", {"email": ALICE, "old_pass": old_password, "pass": "a-new-long-passphrase"}
        )
        assert_unavailable(response)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_cache_down_no_account_is_deleted(api, user, cache_down):
    """Wrong passwords of /delete_account are counted in the cache: without it no try is made,
    the right password's included."""
    for password in (PASSWORD, "wrong-password"):
        assert_unavailable(api.post("/delete_account", {"email": ALICE, "pass": password}))
    assert User.objects.filter(pk=user.pk).exists()
    assert token_named_by(api.token).is_usable()


class ThrowawayRedis:
    """A redis-server of the test's own on port 6391 (never the shared one), started and
    stopped by its process id."""

    PORT = 6391

    def __init__(self, directory):
        self.directory = directory
        self.process = None
        self.url = f"redis://127.0.0.1:{self.PORT}/0"

    def answers(self):
        try:
            socket.create_connection(("127.0.0.1", self.PORT), timeout=1).close()
        except ConnectionRefusedError:
            return False
        return True

    def start(self):
        assert not self.answers(), f"something already listens on port {self.PORT}"
        command = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.PORT)]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.answers():
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def throwaway_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip(
            "redis-server is not installed: this test stops and restarts a Redis of its own"
        )
    server = ThrowawayRedis(tmp_path)
    server.start()
    yield server
    if server.process is not None:
        server.stop()


def test_redis_stopped_and_restarted_around_live_requests(api, throwaway_redis, settings):
    settings.CACHES = redis_cache(ThrowawayRedis.PORT, KEY_PREFIX="restart")
    anon = ApiClient()
    wrong = {"email": ALICE, "pass": "wrong-password"}
    assert anon.get("/healthz").json() == {
        "status": 0,
        "msg": "ok",
        "db": "ok",
        "cache": "ok",
        "channels": "ok",
    }
    assert anon.get("/get_yzm", {"uuid": "device-1"}).json()["status"] == 2000
    assert anon.post("/login", wrong).json()["status"] == 1001

    throwaway_redis.stop()
    response = anon.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {**UNAVAILABLE, "db": "ok", "cache": "error", "channels": "ok"}
    assert_unavailable(anon.get("/get_yzm", {"uuid": "device-1"}))
    assert_unavailable(anon.post("/login", wrong))
    assert_unavailable(anon.post("/register1", {"email": "new@example.com"}))
    post = {"email": ALICE, "message": "still", "time": "1"}
    assert api.post("/putPost", post).json()["status"] == 3001
    assert api.get("/getPost", {"email": ALICE}).json()["status"] == 3002

    throwaway_redis.start()  # empty: it keeps nothing on disk
    assert anon.get("/healthz").json() == {
        "status": 0,
        "msg": "ok",
        "db": "ok",
        "cache": "ok",
        "channels": "ok",
    }
    assert anon.get("/get_yzm", {"uuid": "device-1"}).json()["status"] == 2000
    assert anon.post("/login", {"email": ALICE, "pass": PASSWORD}).json()["status"] == 1002


# Multi-row writes: one transaction each


class InjectedFailure(Exception):
    """A failure injected midway through a write."""


def fail(*args, **kwargs):
    raise InjectedFailure("injected midway")


def assert_internal_error(response):
    assert response.status_code == 500
    assert response.json() == {"status": 9500, "msg": "服务器内部错误"}


def test_register_failing_midway_leaves_no_account(anon, db, monkeypatch):
    """The user row is written, then issuing the token fails."""
    monkeypatch.setattr(AuthToken.objects, "issue", fail)
    client = ApiClient(raise_request_exception=False)
    response = client.post(
        "/register2",
        {"email": "new@example.com", "rid": signed_rid("new@example.com"), "pass": PASSWORD},
    )
    assert_internal_error(response)
    assert not User.objects.filter(email="new@example.com").exists()


def test_block_failing_midway_keeps_the_friendships(api, user, make_user, monkeypatch):
    """Both friendships are deleted, then storing the block fails."""
    bob = make_user(email=BOB)
    befriend(user, bob)
    befriend(bob, user)
    monkeypatch.setattr(Block.objects, "get_or_create", fail)
    api.raise_request_exception = False
    assert_internal_error(api.post("/block", {"email": ALICE, "femail": BOB}))
    assert Friendship.objects.count() == 2
    assert not Block.objects.exists()


def test_delete_post_failing_midway_keeps_the_post_its_comments_and_reports(
    api, user, bob_post, make_user
):
    """The comments and the post are deleted and the report loses its post, then a step after
    the delete fails."""
    own_post = make_post(user)
    make_comments(own_post, user, 3)
    Report.objects.create(reporter=bob_post.author, post=own_post, reason="spam")
    post_delete.connect(fail, sender=Post, dispatch_uid="test-fail-midway")
    try:
        api.raise_request_exception = False
        assert_internal_error(api.get("/delPost", {"email": ALICE, "id": own_post.pk}))
    finally:
        post_delete.disconnect(sender=Post, dispatch_uid="test-fail-midway")
    assert Post.objects.filter(pk=own_post.pk).exists()
    assert Comment.objects.filter(post=own_post).count() == 3
    assert Report.objects.filter(post=own_post).count() == 1


def test_deactivate_failing_midway_keeps_the_user_active_with_their_tokens(
    client, user, superuser, monkeypatch
):
    """The user is marked inactive, then revoking their tokens fails."""
    key = AuthToken.objects.issue(user)
    client.force_login(superuser)
    monkeypatch.setattr(type(AuthToken.objects.all()), "revoke", fail)
    client.raise_request_exception = False
    response = client.post(
        "/admin/accounts/user/", {"action": "deactivate", "_selected_action": [user.pk]}
    )
    assert response.status_code == 500
    user.refresh_from_db()
    assert user.is_active
    assert token_named_by(key).is_usable()
