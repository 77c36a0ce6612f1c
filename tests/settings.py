"""The project's settings with test-only changes: a fixed key and a fast password hasher."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-never-used-outside-the-test-suite")

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
