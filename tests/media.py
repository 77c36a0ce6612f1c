"""Helpers for the tests of stored media (avatars, post images) that hold on either storage: the
file system under MEDIA_ROOT served at /media/ by the app, or an S3 bucket (tests/s3.py) that
serves its objects itself, by signed or public URLs."""

import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.files.storage import default_storage
from django.test import Client
from storages.backends.s3 import S3Storage

from socialsite.settings import media_storage

TEST_SERVER_MEDIA = "http://testserver/media/"


def use_s3(settings, server, **options):
    """Point the default storage at `server`'s bucket, under a prefix of the test's own (so that
    listing a directory shows this test's files only); `options` are MEDIA_STORAGE's (signed,
    expire, custom_domain…). Returns the prefix. The keys are the storage's own options here;
    in production they come from the environment."""
    prefix = f"test-{uuid.uuid4().hex}"
    config = media_storage(server.media_storage_url(prefix, **options))
    config["OPTIONS"] |= {"access_key": server.access_key, "secret_key": server.secret_key}
    settings.STORAGES = {**settings.STORAGES, "default": config}
    return prefix


def on_s3():
    # default_storage is a lazy proxy, which passes isinstance on to the storage it stands for.
    return isinstance(default_storage, S3Storage)


def stored_names(directory):
    """The names of the files in `directory` of the default storage ([] if there is none)."""
    try:
        return sorted(default_storage.listdir(directory)[1])
    except FileNotFoundError:  # the file system's, before the first file is written there
        return []


def name_of(url):
    """The storage name that a media URL of the API names, checking that the URL has the shape
    the storage gives: the app's /media/ on the file system; on S3 the bucket's endpoint, the
    bucket and the prefix in the path, and a signature when the storage signs."""
    if not on_s3():
        assert url.startswith(TEST_SERVER_MEDIA), url
        return url.removeprefix(TEST_SERVER_MEDIA)
    parts = urlsplit(url)
    endpoint = urlsplit(default_storage.endpoint_url)
    assert (parts.scheme, parts.netloc) == (endpoint.scheme, endpoint.netloc), url
    prefix = f"/{default_storage.bucket_name}/{default_storage.location}/"
    assert parts.path.startswith(prefix), url
    signed = "X-Amz-Signature" in parse_qs(parts.query)
    assert signed == default_storage.querystring_auth, url
    return unquote(parts.path.removeprefix(prefix))


@dataclass
class Fetched:
    status: int
    content_type: str
    content: bytes


def fetch(url):
    """GET a media URL as a client would: through the test client for the app's own /media/, over
    HTTP from the bucket otherwise."""
    if url.startswith("http://testserver/"):
        response = Client().get(url.removeprefix("http://testserver"))
        content = b"".join(response.streaming_content) if response.streaming else response.content
        return Fetched(response.status_code, response.get("Content-Type", ""), content)
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return Fetched(response.status, response.headers["Content-Type"], response.read())
    except urllib.error.HTTPError as error:
        return Fetched(error.code, error.headers.get("Content-Type", ""), error.read())
