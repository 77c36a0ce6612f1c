"""Settings for socialsite. Everything configurable comes from the environment (django-environ);
a `.env` file beside manage.py is read when present. README.md lists every variable."""

from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see README.md).")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
# The address clients reach the site at, for absolute URLs built without a request: the avatars
# in a frame pushed from a signal (notices). Answers to requests build theirs from the request.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:5000")

# HTTPS in production (README, "Running in production"): all off by default, so that `make run`
# works over plain HTTP on 127.0.0.1.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# The load balancer's health probe speaks plain HTTP to each app server.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
# How many reverse proxies stand in front of the app (each appending to X-Forwarded-For and
# setting X-Forwarded-Proto): client addresses, and https in the avatar URLs, come from them.
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)
# The header through which the TLS-terminating proxy says a request came over HTTPS (e.g.
# X-Forwarded-Proto: https). Set it only when that proxy always sets or overwrites the header;
# trusted proxies (above) are taken to set X-Forwarded-Proto.
_proxy_ssl_header = env.str(
    "SECURE_PROXY_SSL_HEADER", default="X-Forwarded-Proto" if TRUSTED_PROXIES else ""
)
if _proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # Swagger UI's files for /docs (a plain Django app of static files).
    "drf_spectacular_sidecar",
    "corsheaders",
    "socialsite",
    "accounts",
    "friends",
    "feed",
    "chat",
    "notices",
]

MIDDLEWARE = [
    # Outside everything that can answer (JsonErrorMiddleware included), so that a web client on
    # an allowed origin can read the errors too; it answers a preflight itself.
    "corsheaders.middleware.CorsMiddleware",
    # Every error the stack below produces leaves as the JSON envelope.
    "socialsite.middleware.JsonErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "socialsite.middleware.BearerTokenMiddleware",
]

ROOT_URLCONF = "socialsite.urls"
WSGI_APPLICATION = "socialsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


# HTTP requests an ASGI worker runs in Django at once (socialsite/asgi.py, bounded); the rest wait.
# 2 measured best on 2 CPUs: the write mix of make loadtest at 4 ran 0.6-0.8 of WSGI's (threads of
# one worker contend for the GIL and SQLite's write lock), at 2 on par (README: ASGI against WSGI).
HTTP_CONCURRENCY = env.int("HTTP_CONCURRENCY", default=2)
# PostgreSQL connections a process keeps at most: its requests in Django at once, the WebSockets'
# token checks (one thread) and one to spare. Servers × workers × this must fit max_connections.
DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", default=HTTP_CONCURRENCY + 2)


def database(url):
    """The settings of one database URL, with the connection policy of this project."""
    config = env.db_url_config(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at BEGIN, so
        # that concurrent gunicorn workers queue on the busy timeout instead of failing
        # "database is locked".
        config.setdefault("OPTIONS", {}).update(
            {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
            }
        )
        # Connections kept for the life of their thread: opening one (the file, its WAL and
        # shared memory, the pragmas above, Django's functions) took a third of a small
        # request's time. A thread is a sync worker, or a thread the ASGI handler lends
        # request after request (socialsite/asgi.py); `?conn_max_age=0` in the URL closes
        # after each request.
        config.setdefault("CONN_MAX_AGE", None)
    else:
        # A pool per process (psycopg_pool), not persistent connections (CONN_MAX_AGE), which
        # are one per thread: a worker's connections are bounded by the pool whatever threads it
        # runs (the ASGI handler's, the sockets' token checks), where connections of threads
        # Django had started per request lingered until collected ("too many clients" under
        # load). A request borrows a connection and gives it back when it ends; with
        # CONN_HEALTH_CHECKS each is checked as it is lent, so that one the server dropped (a
        # restart, a failover) is replaced and the site recovers by itself.
        config.setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": DATABASE_POOL_SIZE,
            "timeout": 5,  # waiting longer for a connection (the server down) answers 503/9503
        }
        config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASES = {
    "default": database(env.str("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"))
}
# Read replicas of the primary, for the read-only list endpoints (socialsite/replicas.py).
READ_REPLICAS = []
for number, url in enumerate(env.list("DATABASE_REPLICA_URLS", default=[]), start=1):
    READ_REPLICAS.append(f"replica{number}")
    DATABASES[f"replica{number}"] = database(url)
DATABASE_ROUTERS = ["socialsite.replicas.ReplicaRouter"]

# The default cache holds captcha answers, rate limits and login-failure counters, so it must be
# shared by every worker process: a database table by default, Redis in production.
# The channel layer that carries pushes to the WebSockets (socialsite/realtime.py): a Redis
# protocol server shared by every worker and app server, CHANNEL_LAYER_URL (redis://host:6379/2,
# rediss://…, or unix:///path/to/socket; `make run` starts a private Valkey on var/valkey.sock).
# Without it, in memory: one process only, which is what the unit tests use. The publish/subscribe
# layer: its group sends cost one PUBLISH, where RedisChannelLayer's cost a round of commands per
# member (docs/ARCHITECTURE.md, "Real time", has the measurement); socialsite's own subclass
# closes the sockets of a worker whose connection to it broke, so that their clients catch up.
CHANNEL_LAYER_URL = env.str("CHANNEL_LAYER_URL", default="")
if CHANNEL_LAYER_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "socialsite.channel_layer.RedisPubSubChannelLayer",
            # The prefix of its channel names, so that several sites (or test runs) can share
            # one Redis.
            "CONFIG": {
                "hosts": [CHANNEL_LAYER_URL],
                "prefix": env.str("CHANNEL_LAYER_PREFIX", default="asgi"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CACHES = {"default": env.cache("CACHE_URL", default="dbcache://django_cache")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # Django's, with its connections kept across requests (socialsite/cache.py).
    CACHES["default"]["BACKEND"] = "socialsite.cache.RedisCache"
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache":
    # Past MAX_ENTRIES (Django's default: 300) the database cache deletes its expired rows and
    # then a third of the live ones: limits and failure counters would vanish under load or a
    # flood of captchas. Not much higher: every write counts the rows. (Busy sites use Redis.)
    CACHES["default"].setdefault("OPTIONS", {}).setdefault("MAX_ENTRIES", 100_000)

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="zh-hans")
TIME_ZONE = env.str("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# The options of an s3:// MEDIA_STORAGE URL's query, and their defaults.
MEDIA_STORAGE_OPTIONS = {
    "endpoint_url": None,
    "region": None,
    "addressing_style": None,
    "signed": "on",
    "expire": "3600",
    "custom_domain": None,
}


def media_storage(url):
    """The STORAGES["default"] of a MEDIA_STORAGE URL (README, "Running in production"): empty
    is the file system under MEDIA_ROOT; s3://BUCKET[/PREFIX]?options an S3-compatible store
    through django-storages. Its credentials come from boto3's chain (AWS_ACCESS_KEY_ID and
    AWS_SECRET_ACCESS_KEY, or the machine's role), never from the URL."""
    if not url:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    option = {**MEDIA_STORAGE_OPTIONS, **{name: values[0] for name, values in query.items()}}
    problem = _media_storage_problem(parts, query, option)
    if problem:
        # Without the keys, were they in the URL: the message goes to the logs.
        shown = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
        raise ImproperlyConfigured(f"MEDIA_STORAGE={shown!r}: {problem} (see README.md).")
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": parts.netloc,
            "location": parts.path.strip("/"),
            "endpoint_url": option["endpoint_url"],
            "region_name": option["region"],
            "addressing_style": option["addressing_style"],
            # Signed URLs (the default) let a private bucket serve its objects for `expire`
            # seconds; a public bucket, or a CDN in front of it (custom_domain), needs none.
            "querystring_auth": option["signed"] == "on",
            "querystring_expire": int(option["expire"]),
            # Signature version 4, which every current store accepts (AWS's newer regions, OSS and
            # others refuse version 2, botocore's default for a presigned URL).
            "signature_version": "s3v4",
            "custom_domain": option["custom_domain"],
            # Names are random; were one taken, the new file is renamed, never written over it.
            "file_overwrite": False,
            # Who may read is the bucket's policy: no per-object ACL (many stores refuse them).
            "default_acl": None,
        },
    }


def _media_storage_problem(parts, query, option):
    """What is wrong with an s3:// MEDIA_STORAGE URL (split, its query and the options with
    their defaults), or None."""
    if parts.username or parts.password:
        return "credentials belong in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, not in the URL"
    if parts.scheme != "s3" or not parts.netloc or parts.fragment:
        return "expected s3://BUCKET[/PREFIX]?options"
    if set(query) - set(MEDIA_STORAGE_OPTIONS) or any(len(values) > 1 for values in query.values()):
        return f"the options are {', '.join(MEDIA_STORAGE_OPTIONS)}, each at most once"
    if option["addressing_style"] not in {None, "path", "virtual"}:
        return "addressing_style is path or virtual"
    if option["signed"] not in {"on", "off"}:
        return "signed is on or off"
    if not option["expire"].isdecimal() or int(option["expire"]) == 0:
        return "expire is a number of seconds"
    if option["custom_domain"] and option["signed"] == "on":
        return "a custom_domain serves public URLs: add signed=off"
    return None


MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="")
# On object storage the store serves the files itself: the app never serves /media/.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=True) and not MEDIA_STORAGE
STORAGES = {
    "default": media_storage(MEDIA_STORAGE),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="socialsite <noreply@localhost>")

# Request bodies (API.md, the 413 row): DATA_UPLOAD_MAX_MEMORY_SIZE on the endpoints that take
# images, API_MAX_BODY_SIZE on every other endpoint, where a larger body is nothing but work for
# the parser. Each checked from Content-Length, before the body is read.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=8 * 1024 * 1024)
API_MAX_BODY_SIZE = env.int("API_MAX_BODY_SIZE", default=64 * 1024)
# Django's DATA_UPLOAD_MAX_NUMBER_FIELDS (1,000 form fields) also caps the keys of a JSON object.

# Cross-origin calls from web clients (django-cors-headers): only the listed origins, e.g.
# "https://app.example.com,https://m.example.com"; none by default. Not the admin, which keeps
# Django's session and CSRF protection. No cookie authenticates the API, so no credentials.
CORS_ALLOWED_ORIGINS = [origin.strip() for origin in env.list("CORS_ALLOWED_ORIGINS", default=[])]
CORS_URLS_REGEX = r"^/(?!admin/)"
CORS_ALLOW_HEADERS = ["authorization", "content-type"]
CORS_ALLOW_METHODS = ["GET", "POST", "OPTIONS"]

# API behaviour (API.md, "Authentication" and "/login").
# What `@api` calls to check a request's token: the toolkit (socialsite/) imports no app.
API_AUTHENTICATOR = "accounts.auth.authenticate"
# The consumer of the WebSocket /ws (socialsite/asgi.py), named for the same reason.
WEBSOCKET_CONSUMER = "accounts.consumers.RealtimeConsumer"
TOKEN_TTL_DAYS = env.int("TOKEN_TTL_DAYS", default=30)
LOGIN_CAPTCHA = env.str("LOGIN_CAPTCHA", default="after_failures")
if LOGIN_CAPTCHA not in {"after_failures", "always", "never"}:
    raise ImproperlyConfigured("LOGIN_CAPTCHA must be one of after_failures, always, never.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
