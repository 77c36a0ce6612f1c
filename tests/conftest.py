"""The fixtures shared by the test modules; plain helpers are in tests/factories.py."""

import itertools
import os
import uuid

import pytest
from django.contrib.auth.models import Group
from django.db import connections
from django.test import Client
from playwright.sync_api import sync_playwright

from accounts.models import AuthToken, User
from tests import media, s3
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.factories import PASSWORD, SENT_FRAME_TYPES, ApiClient, make_post


def pytest_collection_modifyitems(items):
    """The `after_all` tests last (a stable sort keeps the others' order)."""
    items.sort(key=lambda item: item.get_closest_marker("after_all") is not None)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    yield
    # Django closes the PostgreSQL pool only of the aliases it destroys: the mirror's
    # (tests/settings.py, "replica") would keep the test database in use.
    for alias in connections:
        if "pool" in connections[alias].settings_dict["OPTIONS"]:
            connections[alias].close_pool()


@pytest.fixture(autouse=True)
def record_sent_frames(monkeypatch):
    """Record the type of every frame the WebSocket consumer sends (tests/test_asyncapi.py)."""
    from accounts.consumers import RealtimeConsumer

    send_json = RealtimeConsumer.send_json

    async def recording(self, frame):
        SENT_FRAME_TYPES.add(frame.get("type"))
        await send_json(self, frame)

    monkeypatch.setattr(RealtimeConsumer, "send_json", recording)


@pytest.fixture(autouse=True)
def isolated_cache(settings):
    """A cache key prefix of its own per test, so limits and captchas never leak between tests
    (whatever CACHE_URL points at, Redis included)."""
    caches = {alias: dict(config) for alias, config in settings.CACHES.items()}
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A private S3 server (SeaweedFS, tests/s3.py) for the session, its buckets empty."""
    with s3.running(tmp_path_factory.mktemp("weed")) as server:
        yield server


@pytest.fixture(autouse=True)
def storage_of_marked_tests(request, media_root):
    """The storage of the tests marked `media_storage`: with TEST_MEDIA_STORAGE=s3 the private
    S3 server's bucket (CI's PostgreSQL + Redis run), else the file system under MEDIA_ROOT."""
    choice = os.environ.get("TEST_MEDIA_STORAGE", "")
    if choice not in ("", "s3"):
        raise pytest.UsageError(f"TEST_MEDIA_STORAGE is s3 or empty, not {choice!r}")
    if choice == "s3" and request.node.get_closest_marker("media_storage"):
        settings = request.getfixturevalue("settings")
        media.use_s3(settings, request.getfixturevalue("s3_server"))


@pytest.fixture
def make_user(db):
    """make_user(email=None, password=PASSWORD, **profile) → a saved, active user."""
    numbers = itertools.count(1)

    def make(email=None, password=PASSWORD, **fields):
        email = email or f"user{next(numbers)}-{uuid.uuid4().hex[:6]}@example.com"
        return User.objects.create_user(email=email, password=password, **fields)

    return make


@pytest.fixture
def user(make_user):
    return make_user(email="alice@example.com", username="alice", name="Alice")


@pytest.fixture
def bob(make_user):
    """bob@example.com (username bob), who likes 篮球."""
    return make_user(email="bob@example.com", username="bob", like="篮球")


@pytest.fixture
def carol(make_user):
    return make_user(email="carol@example.com", username="carol")


@pytest.fixture
def bob_post(bob):
    """A post of bob's, without comments."""
    return make_post(bob)


@pytest.fixture
def superuser(make_user):
    """root@example.com: staff and superuser."""
    return make_user(email="root@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def moderator(make_user):
    """mod@example.com: staff, in the moderators group (made by a data migration)."""
    person = make_user(email="mod@example.com", is_staff=True)
    person.groups.add(Group.objects.get(name="moderators"))
    return person


@pytest.fixture
def superuser_client(superuser):
    """A client (of its own) logged in to the admin as `superuser`."""
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def anon():
    """A client without a token."""
    return ApiClient()


@pytest.fixture
def client_for(db):
    """client_for(user) → an ApiClient logged in as `user` with a fresh token."""

    def make(user):
        return ApiClient(AuthToken.objects.issue(user))

    return make


@pytest.fixture
def api(client_for, user):
    """An ApiClient logged in as `user` (alice@example.com)."""
    return client_for(user)


@pytest.fixture(scope="module")
def browser():
    """Chromium, launched once for the module (a browser test's own)."""
    # Playwright's sync API keeps an asyncio event loop running in this thread, which Django
    # takes for async code and refuses to query the database from.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def real_channel_layer_url(tmp_path_factory):
    """The URL of a real Redis-protocol server for the integration tests' channel layer: CI's
    Redis when CACHE_URL names one (the PostgreSQL + Redis run), else an embedded Valkey of the
    session's own (as `make run` starts). Unit tests keep the in-memory layer."""
    from socialsite import embedded_valkey

    cache_url = os.environ.get("CACHE_URL", "")
    if cache_url.startswith(("redis://", "rediss://")):
        yield cache_url
        return
    # A short path: a unix socket's is limited to about 100 bytes.
    with embedded_valkey.running(tmp_path_factory.mktemp("valkey") / "v.sock") as url:
        yield url


@pytest.fixture
def real_channel_layer(settings, real_channel_layer_url):
    """This process's channel layer on the real server, under a prefix of the test's own (a
    shared Redis carries other runs too); returns (url, prefix) for a server process to join."""
    from channels.layers import channel_layers

    prefix = f"test{uuid.uuid4().hex[:12]}"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "socialsite.channel_layer.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [real_channel_layer_url], "prefix": prefix},
        }
    }
    channel_layers.backends.clear()
    yield real_channel_layer_url, prefix
    channel_layers.backends.clear()
