"""Media on object storage (README, "Running in production"): avatars and post images written to,
served from, replaced in and deleted from an S3 bucket of a real S3 server (SeaweedFS,
tests/s3.py), through django-storages; and MEDIA_STORAGE, read at start-up. (With
TEST_MEDIA_STORAGE=s3 the avatar, post-image and account-deletion modules run on it too.)"""

import io
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from PIL import Image

from feed.models import PostImage
from socialsite.settings import media_storage
from tests import images, media, s3
from tests.factories import PASSWORD, body
from tests.images import b64
from tests.test_settings import read_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def prefix(settings, s3_server):
    """The default storage on the private bucket, under a prefix of the test's own."""
    return media.use_s3(settings, s3_server)


def reset_img(api, email, image):
    answer = body(api.post("/reset", {"email": email, "img": b64(image)}))
    assert answer["status"] == 1002
    return answer["data"]["img"]


def stored_object(server, key, bucket=s3.BUCKET):
    """The bytes and content type of an object, read straight from the server."""
    stored = server.client.get_object(Bucket=bucket, Key=key)
    return stored["Body"].read(), stored["ContentType"]


class TestAvatars:
    def test_an_avatar_is_written_to_the_bucket_and_its_url_serves_it(
        self, api, user, s3_server, prefix
    ):
        url = reset_img(api, user.email, images.png())
        user.refresh_from_db()
        key = f"{prefix}/{user.avatar.name}"
        assert s3_server.keys(prefix) == [key]
        data, content_type = stored_object(s3_server, key)
        assert content_type == "image/webp"
        assert url.startswith(f"{s3_server.endpoint_url}/{s3.BUCKET}/{key}?")
        fetched = media.fetch(url)
        assert (fetched.status, fetched.content_type, fetched.content) == (200, "image/webp", data)
        assert Image.open(io.BytesIO(data)).format == "WEBP"

    def test_the_private_bucket_serves_a_signed_url_only_until_it_expires(
        self, api, user, settings, s3_server
    ):
        media.use_s3(settings, s3_server, expire=2)
        url = reset_img(api, user.email, images.png())
        assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["2"]
        assert media.fetch(url).status == 200
        assert media.fetch(url.split("?")[0]).status == 403  # unsigned
        other_object = url.replace(".webp?", ".png?")  # the signature is of one object's name
        assert media.fetch(other_object).status == 403
        time.sleep(3)
        assert media.fetch(url).status == 403  # expired

    def test_a_public_bucket_serves_unsigned_urls(self, api, user, settings, s3_server):
        prefix = media.use_s3(settings, s3_server, bucket=s3.PUBLIC_BUCKET, signed="off")
        url = reset_img(api, user.email, images.png())
        user.refresh_from_db()
        key = f"{prefix}/{user.avatar.name}"
        assert url == f"{s3_server.endpoint_url}/{s3.PUBLIC_BUCKET}/{key}"
        fetched = media.fetch(url)
        assert fetched.status == 200
        assert fetched.content == stored_object(s3_server, key, s3.PUBLIC_BUCKET)[0]

    def test_the_keys_come_from_the_environment(self, api, user, settings, s3_server, monkeypatch):
        """As in production: MEDIA_STORAGE as it is, the keys in AWS_ACCESS_KEY_ID and
        AWS_SECRET_ACCESS_KEY (boto3's chain)."""
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
        prefix = "from-the-environment"
        storage = media_storage(s3_server.media_storage_url(prefix))
        assert "access_key" not in storage["OPTIONS"]
        settings.STORAGES = {**settings.STORAGES, "default": storage}
        url = reset_img(api, user.email, images.png())
        user.refresh_from_db()
        assert s3_server.keys(prefix) == [f"{prefix}/{user.avatar.name}"]
        assert media.fetch(url).status == 200

    def test_a_replaced_avatar_is_deleted_from_the_bucket_after_the_commit(
        self, api, user, s3_server, prefix, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            reset_img(api, user.email, images.png())
        first = f"{prefix}/{type(user).objects.get(pk=user.pk).avatar.name}"
        with django_capture_on_commit_callbacks() as callbacks:
            reset_img(api, user.email, images.jpeg())
        second = f"{prefix}/{type(user).objects.get(pk=user.pk).avatar.name}"
        assert s3_server.keys(prefix) == sorted([first, second])  # not before the commit
        for callback in callbacks:
            callback()
        assert s3_server.keys(prefix) == [second]


def test_post_images_are_written_served_and_deleted(
    api, user, s3_server, prefix, django_capture_on_commit_callbacks
):
    fields = {"email": user.email, "message": "看图", "time": 1_700_000_000_000}
    sent = [b64(images.png(colour=(255, 0, 0))), b64(images.jpeg())]
    post = body(api.post_json("/putPost", {**fields, "images": sent}))["data"]
    names = list(PostImage.objects.order_by("position").values_list("file", flat=True))
    assert s3_server.keys(prefix) == sorted(f"{prefix}/{name}" for name in names)
    assert [media.name_of(url) for url in post["images"]] == names
    for url, name in zip(post["images"], names, strict=True):
        fetched = media.fetch(url)
        assert (fetched.status, fetched.content_type) == (200, "image/webp")
        assert fetched.content == stored_object(s3_server, f"{prefix}/{name}")[0]
    listed = body(api.get("/getPost", {"email": user.email}))["data"]
    assert [media.name_of(url) for url in listed[0]["images"]] == names
    with django_capture_on_commit_callbacks(execute=True):
        answer = body(api.get("/delPost", {"email": user.email, "id": post["id"]}))
    assert answer["status"] == 3005
    assert s3_server.keys(prefix) == []


def test_deleting_an_account_deletes_its_objects_and_no_one_elses(
    api, user, bob, client_for, s3_server, prefix, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        reset_img(api, user.email, images.png())
        fields = {"email": user.email, "message": "看图", "time": 1_700_000_000_000}
        body(api.post_json("/putPost", {**fields, "images": [b64(images.png())] * 2}))
        reset_img(client_for(bob), bob.email, images.jpeg())
    assert len(s3_server.keys(prefix)) == 4
    with django_capture_on_commit_callbacks(execute=True):
        answer = body(api.post("/delete_account", {"email": user.email, "pass": PASSWORD}))
    assert answer["status"] == 1015
    bob.refresh_from_db()
    assert s3_server.keys(prefix) == [f"{prefix}/{bob.avatar.name}"]


class TestSetting:
    def test_an_s3_url_configures_django_storages_and_no_media_route(self):
        url = (
            "s3://socialsite/media/v1?endpoint_url=https://oss-cn-hangzhou.aliyuncs.com"
            "&region=cn-hangzhou&addressing_style=virtual&expire=600"
        )
        code, configured = read_settings(MEDIA_STORAGE=url, SERVE_MEDIA="on")
        assert code == 0, configured
        assert configured["media"] == [
            {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": "socialsite",
                    "location": "media/v1",
                    "endpoint_url": "https://oss-cn-hangzhou.aliyuncs.com",
                    "region_name": "cn-hangzhou",
                    "addressing_style": "virtual",
                    "querystring_auth": True,
                    "querystring_expire": 600,
                    "signature_version": "s3v4",
                    "custom_domain": None,
                    "file_overwrite": False,
                    "default_acl": None,
                },
            },
            False,  # SERVE_MEDIA: the store serves the files
        ]

    def test_without_it_the_file_system_and_the_apps_media_route(self):
        code, configured = read_settings(MEDIA_STORAGE="")
        assert code == 0, configured
        storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
        assert configured["media"] == [storage, True]

    def test_a_custom_domain_serves_public_urls(self):
        options = media_storage("s3://b?custom_domain=media.example.com&signed=off")["OPTIONS"]
        assert (options["custom_domain"], options["querystring_auth"]) == (
            "media.example.com",
            False,
        )

    @pytest.mark.parametrize(
        ("url", "problem"),
        [
            ("https://bucket/prefix", "expected s3://BUCKET"),
            ("s3:///prefix", "expected s3://BUCKET"),
            ("s3://bucket#x", "expected s3://BUCKET"),
            ("s3://KEY:hunter2@bucket", "credentials belong in AWS_ACCESS_KEY_ID"),
            ("s3://bucket?endpoint=http://x", "the options are endpoint_url, region"),
            ("s3://bucket?region=a&region=b", "each at most once"),
            ("s3://bucket?addressing_style=auto", "addressing_style is path or virtual"),
            ("s3://bucket?signed=yes", "signed is on or off"),
            ("s3://bucket?expire=0", "expire is a number of seconds"),
            ("s3://bucket?expire=1h", "expire is a number of seconds"),
            ("s3://bucket?custom_domain=cdn.example.com", "add signed=off"),
        ],
    )
    def test_a_malformed_url_is_refused(self, url, problem):
        with pytest.raises(ImproperlyConfigured, match="^MEDIA_STORAGE=") as refused:
            media_storage(url)
        assert problem in str(refused.value)
        assert "hunter2" not in str(refused.value)  # the message goes to the logs

    def test_the_server_refuses_to_start_with_a_malformed_url(self):
        code, stderr = read_settings(MEDIA_STORAGE="s3://bucket?signed=maybe")
        assert code != 0
        assert "ImproperlyConfigured: MEDIA_STORAGE='s3://bucket?signed=maybe'" in stderr
