"""Captcha answers, email-code limits and login-failure counters live in the shared cache, so
they hold across worker processes: two separate processes (tests/peer.py) against one cache."""

import json
import os
import subprocess
import sys
import time

import pytest
import redis
from django.conf import settings

from accounts.services import CODES_PER_ADDRESS_PER_HOUR
from socialsite import embedded_valkey
from tests.factories import PASSWORD, solve
from tests.live import database_url
from tests.test_asgi import call, scope, whole

HOUR = 3600


def in_another_process(*calls):
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "TEST_CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "ALLOWED_HOSTS": "testserver",
        "EMAIL_URL": "memorymail://",
    }
    finished = subprocess.run(
        [sys.executable, "-m", "tests.peer", json.dumps(calls)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
    return [body["status"] for body in json.loads(finished.stdout)]


@pytest.mark.django_db(transaction=True)
def test_limits_counters_and_captchas_are_shared_between_processes(make_user):
    make_user(email="bob@example.com")
    wrong = ["post", "/login", {"email": "bob@example.com", "pass": "wrong-password"}]
    right = {"email": "bob@example.com", "pass": PASSWORD}
    assert in_another_process(
        wrong,
        wrong,
        wrong,
        ["get", "/get_yzm", {"uuid": "device-1"}],
        ["post", "/register1", {"email": "new@example.com"}],
    ) == [1001, 1001, 1001, 2000, 1004]

    answer = solve("device-1")
    assert answer, "the captcha made in the other process is in this one's cache"
    captcha = {"uuid": "device-1", "val": answer}
    typo_with_captcha = ["post", "/login", {**right, "pass": "wrong-password", **captcha}]
    # Another process sees the failures (captcha required), the answer, and the cooldown.
    assert in_another_process(
        ["post", "/login", right],
        typo_with_captcha,
        ["post", "/register1", {"email": "new@example.com"}],
    ) == [1003, 1001, 9429]
    # The answer was used up in that process.
    assert in_another_process(["post", "/login", {**right, **captcha}]) == [1003]


@pytest.mark.django_db(transaction=True)
def test_the_hourly_sign_up_code_limit_per_address_is_shared_between_processes(anon):
    # The limit counts in fixed clock-hour windows: don't straddle the turn of an hour.
    to_next_hour = HOUR - time.time() % HOUR
    if to_next_hour < 30:
        time.sleep(to_next_hour + 1)
    half = CODES_PER_ADDRESS_PER_HOUR // 2
    register = [["post", "/register1", {"email": f"new{n}@example.com"}] for n in range(half)]
    assert in_another_process(*register) == [1004] * half
    for n in range(half, CODES_PER_ADDRESS_PER_HOUR):
        assert anon.post("/register1", {"email": f"new{n}@example.com"}).json()["status"] == 1004
    assert in_another_process(["post", "/register1", {"email": "one-more@example.com"}]) == [9429]


@pytest.mark.django_db(transaction=True)
def test_asgi_requests_share_one_connection_to_the_redis_cache(settings, tmp_path):
    # Django's own RedisCache opens a connection per ASGI request (a cache object per request
    # context, a pool per object): ten requests were ten connections.
    with embedded_valkey.running(tmp_path / "v.sock") as url:
        settings.CACHES = {"default": {"BACKEND": "socialsite.cache.RedisCache", "LOCATION": url}}
        server = redis.Redis.from_url(url)
        connections_before = server.info("stats")["total_connections_received"]
        for _ in range(10):
            status, _, body = call(scope("GET", "/healthz"), whole())
            assert (status, body["cache"]) == (200, "ok")
        opened = server.info("stats")["total_connections_received"] - connections_before
        assert opened == 1
