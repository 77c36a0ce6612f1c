"""The fixtures shared by the test modules; plain helpers are in tests/factories.py."""

import itertools
import uuid

import pytest

from accounts.models import AuthToken, User
from tests.factories import PASSWORD, ApiClient


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
