"""Running in production (issue 8, README): read replicas and the HTTPS settings.

The read-only list endpoints read from a replica, everything else — writes, and any read after a
write in the same request — from the primary. In tests the alias "replica" is a test mirror of
the primary (tests/settings.py): another connection to the same database, so each query's alias
shows where the router sent it."""

import contextlib
import json
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.db import connections

from accounts.models import User
from feed.models import Post
from friends.models import SearchInterest
from socialsite.replicas import reads_from_replica
from tests.factories import befriend, make_comments

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])

ALICE, BOB = "alice@example.com", "bob@example.com"


@pytest.fixture
def replica(settings):
    settings.READ_REPLICAS = ["replica"]


@pytest.fixture
def timeline_post(user, bob, bob_post, make_user):
    """bob's post in alice's timeline (she lists bob), with two comments."""
    befriend(user, bob)
    make_user(email="carol@example.com", like="篮球")  # someone to recommend
    make_comments(bob_post, bob, 2)
    return bob_post


@contextlib.contextmanager
def queries():
    """The (alias, SQL) of every query on the primary or the replica, in order."""
    log = []

    def recorder(alias):
        def record(execute, sql, params, many, context):
            log.append((alias, sql))
            return execute(sql, params, many, context)

        return record

    with contextlib.ExitStack() as stack:
        for alias in ("default", "replica"):
            stack.enter_context(connections[alias].execute_wrapper(recorder(alias)))
        yield log


def aliases(log):
    return [alias for alias, _ in log]


# path -> (parameters, status); "{post}" is bob's post.
READ_ONLY_LISTS = {
    "get_data": ({"email": ALICE, "start": "0", "limit": "10"}, 1008),
    "recommend": ({"email": ALICE}, 1008),
    "getPost": ({"email": BOB}, 3002),
    "get_comments": ({"id": "{post}"}, 3002),
    "get_friend_post": ({"email": ALICE}, 3002),
    "get_info": ({"email": BOB}, 6001),
}


@pytest.mark.parametrize("path", sorted(READ_ONLY_LISTS))
def test_read_only_lists_read_from_the_replica(api, timeline_post, replica, path):
    params, status = READ_ONLY_LISTS[path]
    params = {name: value.format(post=timeline_post.pk) for name, value in params.items()}
    with queries() as log:
        body = api.get(f"/{path}", params).json()
    assert body["status"] == status
    assert body["data"], "the replica's answer holds the data"
    primary = [sql for alias, sql in log if alias == "default"]
    # Only the token is checked on the primary (a revoked one must fail at once).
    assert primary and all("accounts_authtoken" in sql for sql in primary)
    assert "replica" in aliases(log)


def test_without_replicas_everything_reads_from_the_primary(api, timeline_post):
    for path, (params, status) in READ_ONLY_LISTS.items():
        params = {name: value.format(post=timeline_post.pk) for name, value in params.items()}
        with queries() as log:
            assert api.get(f"/{path}", params).json()["status"] == status
        assert set(aliases(log)) == {"default"}, path


@pytest.mark.parametrize(
    ("method", "path", "params", "status"),
    [
        ("get", "/get_info", {"email": ALICE}, 6001),  # one's own profile, perhaps just edited
        ("get", "/get_friends", {"email": ALICE}, 6001),
        # one's own lists, perhaps just changed (a /block, then the block list)
        ("get", "/get_followers", {"email": ALICE}, 6001),
        ("get", "/get_blocks", {"email": ALICE}, 6001),
        ("get", "/is_friend", {"email": ALICE, "femail": BOB}, 6001),
        ("post", "/putPost", {"email": ALICE, "message": "hi", "time": "1"}, 3001),
        ("post", "/comment", {"email": ALICE, "id": "{post}", "comment": "hi"}, 3007),
        ("get", "/set_friend", {"email": ALICE, "femail": BOB, "group": "2"}, 5003),
        ("post", "/login", {"email": ALICE, "pass": "correct-horse-battery"}, 1002),
    ],
)
def test_other_endpoints_use_only_the_primary(
    api, timeline_post, replica, method, path, params, status
):
    params = {name: value.format(post=timeline_post.pk) for name, value in params.items()}
    with queries() as log:
        assert getattr(api, method)(path, params).json()["status"] == status
    assert set(aliases(log)) == {"default"}


def test_a_search_that_writes_reads_from_the_primary(api, timeline_post, replica):
    """/get_data remembers a `like` term first; the search after that write reads the primary,
    where the write is."""
    params = {"email": ALICE, "start": "0", "limit": "10", "like": "篮球"}
    with queries() as log:
        body = api.get("/get_data", params).json()
    assert body["status"] == 1008
    assert [profile["email"] for profile in body["data"]] == [BOB, "carol@example.com"]
    assert set(aliases(log)) == {"default"}
    assert SearchInterest.objects.filter(term="篮球").exists()


def test_reads_after_a_write_go_to_the_primary(user, replica):
    with queries() as log, reads_from_replica():
        User.objects.filter(pk=user.pk).exists()
        Post.objects.create(author=user, msg="hi", time=1)
        User.objects.filter(pk=user.pk).exists()
    assert aliases(log) == ["replica", "default", "default"]


def run_django(code_or_command, **environment):
    """Run `python -c CODE` (or manage.py with the arguments given as a list) with the project's
    own settings and this environment."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DATABASE_REPLICA_URLS"}
    }
    env.update({"SECRET_KEY": secrets.token_urlsafe(50), **environment})
    env["DJANGO_SETTINGS_MODULE"] = "socialsite.settings"
    if isinstance(code_or_command, list):
        command = [sys.executable, "manage.py", *code_or_command]
    else:
        command = [sys.executable, "-c", code_or_command]
    return subprocess.run(
        command,
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_replicas_come_from_database_replica_urls():
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps({'replicas': settings.READ_REPLICAS, 'databases': "
        "{alias: {key: config.get(key) for key in ('HOST', 'NAME', 'CONN_HEALTH_CHECKS', "
        "'OPTIONS')} for alias, config in settings.DATABASES.items()}}))"
    )
    finished = run_django(
        code,
        DATABASE_URL="postgres://app@primary.internal:5432/socialsite",
        DATABASE_REPLICA_URLS="postgres://app@replica-a.internal:5432/socialsite,"
        "postgres://app@replica-b.internal:5432/socialsite",
        DATABASE_POOL_SIZE="12",
    )
    assert finished.returncode == 0, finished.stderr
    configured = json.loads(finished.stdout)
    assert configured["replicas"] == ["replica1", "replica2"]
    pool = {"min_size": 1, "max_size": 12, "timeout": 5}
    expected = {"NAME": "socialsite", "CONN_HEALTH_CHECKS": True, "OPTIONS": {"pool": pool}}
    assert configured["databases"] == {
        "default": {"HOST": "primary.internal", **expected},
        "replica1": {"HOST": "replica-a.internal", **expected},
        "replica2": {"HOST": "replica-b.internal", **expected},
    }


# The production settings README documents ("Running in production").
PRODUCTION = {
    "DEBUG": "off",
    "ALLOWED_HOSTS": "api.example.com",
    "SECURE_SSL_REDIRECT": "on",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "on",
    "SECURE_HSTS_PRELOAD": "on",
    "SESSION_COOKIE_SECURE": "on",
    "CSRF_COOKIE_SECURE": "on",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
}


def test_check_deploy_is_clean_with_the_production_settings():
    finished = run_django(["check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert finished.returncode == 0, finished.stderr
    assert "System check identified no issues" in finished.stdout


def test_check_deploy_fails_without_them():
    finished = run_django(["check", "--deploy", "--fail-level", "WARNING"])
    assert finished.returncode != 0
    for warning in ("W004", "W008", "W012", "W016"):
        assert f"security.{warning}" in finished.stderr


def test_behind_the_proxy_plain_http_is_redirected_except_the_health_probe(anon, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    response = anon.get("/getPost", {"oldTime": "0"})
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/getPost?oldTime=0"
    # Over HTTPS (as the proxy says) the request goes through: here to the token check.
    response = anon.get("/getPost", {"oldTime": "0"}, HTTP_X_FORWARDED_PROTO="https")
    assert (response.status_code, response.json()["status"]) == (401, 9401)
    assert anon.get("/healthz").json()["status"] == 0
