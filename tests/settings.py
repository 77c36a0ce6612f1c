"""The project's settings with test-only changes: a fixed key and a fast password hasher."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-never-used-outside-the-test-suite")
# Race tests run up to five threads at once, each holding a PostgreSQL connection of its own, where
# a worker runs HTTP_CONCURRENCY (2) requests: a pool that fits the widest race.
os.environ.setdefault("DATABASE_POOL_SIZE", "8")

from socialsite.settings import *  # noqa: E402, F403

# Argon2 is deliberately slow; tests hash many passwords and prove nothing about its cost.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests never run collectstatic: serve static files from the apps, without scanning STATIC_ROOT.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file rather than shared-cache memory: tests that use threads then meet SQLite's real
    # locking (WAL, busy timeout) as the server does, instead of "database table is locked".
    import hashlib
    import tempfile

    _checkout = hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:12]  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"socialsite-test-{_checkout}.sqlite3")
    }

# tests/peer.py, a second process, joins the cache keys of the test that started it.
if os.environ.get("TEST_CACHE_KEY_PREFIX"):
    CACHES["default"]["KEY_PREFIX"] = os.environ["TEST_CACHE_KEY_PREFIX"]  # noqa: F405

# A read replica for tests/test_production.py: in tests a mirror of the primary (another connection
# to the same test database), so that each query's alias shows where the router sent it. Reads go
# to it only in the tests that list it in READ_REPLICAS.
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
