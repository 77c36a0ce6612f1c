"""socialsite/settings.py as a server process reads it from a given environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
SHOW = (
    "import json; from socialsite import settings as s; print(json.dumps({"
    "'proxy_ssl': getattr(s, 'SECURE_PROXY_SSL_HEADER', None), 'debug': s.DEBUG,"
    "'cache': s.CACHES['default'], 'db_options': s.DATABASES['default'].get('OPTIONS', {}),"
    "'cors': s.CORS_ALLOWED_ORIGINS, 'body_limits': [s.API_MAX_BODY_SIZE, "
    "s.DATA_UPLOAD_MAX_MEMORY_SIZE], 'media': [s.STORAGES['default'], s.SERVE_MEDIA]}))"
)


def read_settings(**environ):
    """The settings a process started with `environ` gets; (exit code, JSON or stderr)."""
    env = {
        **os.environ,
        # Explicit values win over a developer's .env (django-environ only fills in the unset).
        "SECRET_KEY": "a-key-for-this-test",
        "DATABASE_URL": "sqlite:////tmp/never-opened.sqlite3",
        "TRUSTED_PROXIES": "0",
        "DEBUG": "off",
        "CACHE_URL": "dbcache://django_cache",
        **environ,
    }
    finished = subprocess.run(
        [sys.executable, "-c", SHOW], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    if finished.returncode:
        return finished.returncode, finished.stderr
    return 0, json.loads(finished.stdout)


def test_refuses_to_start_without_a_secret_key_when_debug_is_off():
    code, stderr = read_settings(SECRET_KEY="")
    assert code != 0
    assert "SECRET_KEY must be set when DEBUG is off" in stderr


def test_debug_starts_without_a_secret_key():
    assert read_settings(SECRET_KEY="", DEBUG="on")[1]["debug"] is True


def test_sqlite_in_wal_mode_with_immediate_transactions():
    options = read_settings()[1]["db_options"]
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"]
    assert options["timeout"] > 0


def test_the_database_cache_keeps_more_than_djangos_300_entries():
    assert read_settings()[1]["cache"]["OPTIONS"]["MAX_ENTRIES"] == 100_000
    configured = read_settings(CACHE_URL="dbcache://django_cache?MAX_ENTRIES=500")[1]
    assert configured["cache"]["OPTIONS"]["MAX_ENTRIES"] == 500


@pytest.mark.parametrize(
    ("proxies", "header"), [("0", None), ("1", ["HTTP_X_FORWARDED_PROTO", "https"])]
)
def test_the_scheme_comes_from_a_trusted_proxy_only(proxies, header):
    assert read_settings(TRUSTED_PROXIES=proxies)[1]["proxy_ssl"] == header


def test_cross_origin_calls_come_from_the_listed_origins_only():
    assert read_settings()[1]["cors"] == []
    listed = "https://app.example.com, http://localhost:8080"
    configured = read_settings(CORS_ALLOWED_ORIGINS=listed)[1]
    assert configured["cors"] == ["https://app.example.com", "http://localhost:8080"]


def test_the_body_limits():
    assert read_settings()[1]["body_limits"] == [64 * 1024, 8 * 1024 * 1024]
    configured = read_settings(API_MAX_BODY_SIZE="131072", DATA_UPLOAD_MAX_MEMORY_SIZE="1048576")
    assert configured[1]["body_limits"] == [131072, 1048576]


def test_the_runtime_requirements_give_uvicorn_a_websocket_library():
    """Without one, `make run`'s uvicorn workers answer /ws as plain HTTP (404): the test
    requirements, installed on top, would hide it from every other test."""
    requirements = (BASE_DIR / "requirements.txt").read_text().splitlines()
    pinned = {line.split("==")[0].strip().lower() for line in requirements if "==" in line}
    assert pinned & {"websockets", "wsproto"}
