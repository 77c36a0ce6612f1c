"""Images in posts (issue 15): /putPost's `images` (a JSON array, or repeated form fields), each
through the avatar pipeline fitted within 1080×1080; `images` in every Post; the files deleted
with the post or the account once the deletion commits; a bad image stores nothing; the admin's
thumbnails."""

import html
import io
import re
import time
from urllib.parse import urlencode, urljoin

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models.signals import post_delete, post_save
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image, ImageFile

from accounts import avatars
from accounts.models import AuthToken
from feed.models import Post, PostImage
from feed.services import POST_IMAGE_BOX
from tests import images, media
from tests.factories import PASSWORD, ApiClient, befriend, body, make_post, responses_in_threads
from tests.images import b64

pytestmark = [pytest.mark.django_db, pytest.mark.media_storage]

ALICE = "alice@example.com"
MiB = 1024 * 1024
# Nine colours far apart, to tell the stored images apart and check their order.
COLOURS = [
    (255, 0, 0),
    (0, 255, 0),
    (0, 0, 255),
    (255, 255, 0),
    (0, 255, 255),
    (255, 0, 255),
    (255, 255, 255),
    (0, 0, 0),
    (128, 128, 128),
]


def post_fields(**fields):
    return {"email": ALICE, "message": "看图", "time": 1_700_000_000_000, **fields}


def put_json(api, images_sent, **fields):
    return api.post_json("/putPost", post_fields(images=images_sent, **fields))


def put_multipart(api, images_sent, **fields):
    # Django's test client sends a list as the field repeated
    return api.post("/putPost", post_fields(images=images_sent, **fields))


def put_urlencoded(api, images_sent, **fields):
    data = urlencode(post_fields(images=images_sent, **fields), doseq=True)
    return api.post("/putPost", data, content_type="application/x-www-form-urlencoded")


PUTS = [put_json, put_multipart, put_urlencoded]
PUT_IDS = ["json", "multipart", "urlencoded"]


def stored_files():
    """The names of the files in the post images' directory of media storage."""
    return media.stored_names("posts")


def opened(url):
    """The stored image that `url` names, and its bytes."""
    name = media.name_of(url)
    assert name.startswith("posts/") and name.endswith(".webp")
    with default_storage.open(name) as file:
        data = file.read()
    return data, Image.open(io.BytesIO(data))


def names_of(post):
    """The storage names of a post's `images` (URLs)."""
    return [media.name_of(url) for url in post["images"]]


def colour_of(url):
    return opened(url)[1].convert("RGB").getpixel((4, 4))


def close_to(colour, expected):
    return all(abs(got - wanted) <= 12 for got, wanted in zip(colour, expected, strict=True))


def assert_nothing_stored(response, *, message=None):
    answer = body(response, 400)
    assert (answer["status"], answer["msg"]) == (9400, "参数格式错误")
    assert list(answer["errors"]) == ["images"]
    if message:
        assert message in answer["errors"]["images"][0]
    assert not Post.objects.exists()
    assert not PostImage.objects.exists()
    assert stored_files() == []


class TestAccepted:
    @pytest.mark.parametrize("put", PUTS, ids=PUT_IDS)
    def test_one_image(self, api, user, put):
        answer = body(put(api, [b64(images.png())]))
        assert (answer["status"], answer["msg"]) == (3001, "发布成功")
        post = Post.objects.get()
        (image,) = PostImage.objects.filter(post=post)
        assert image.position == 0
        assert image.file.name.startswith("posts/") and image.file.name.endswith(".webp")
        assert len(image.file.name) == len("posts/") + 32 + len(".webp")
        assert [media.name_of(url) for url in answer["data"]["images"]] == [image.file.name]
        assert stored_files() == [image.file.name.removeprefix("posts/")]
        _, stored = opened(answer["data"]["images"][0])
        assert (stored.format, stored.size) == ("WEBP", (64, 48))

    @pytest.mark.parametrize("put", PUTS, ids=PUT_IDS)
    def test_nine_images_in_the_order_sent(self, api, user, put):
        sent = [b64(images.png(size=(20, 20), colour=colour)) for colour in COLOURS]
        urls = body(put(api, sent))["data"]["images"]
        assert len(urls) == len(set(urls)) == 9
        for url, colour in zip(urls, COLOURS, strict=True):
            assert close_to(colour_of(url), colour), (url, colour)
        assert list(PostImage.objects.order_by("position").values_list("position", flat=True)) == [
            *range(9)
        ]
        assert len(stored_files()) == 9

    @pytest.mark.parametrize("put", PUTS, ids=PUT_IDS)
    def test_no_images(self, api, user, put):
        answer = body(put(api, []))
        assert answer["status"] == 3001
        assert answer["data"]["images"] == []
        assert not PostImage.objects.exists() and stored_files() == []

    def test_null_and_empty_strings_are_no_images(self, api, user):
        assert body(put_json(api, None))["data"]["images"] == []
        assert body(put_multipart(api, [""]))["data"]["images"] == []
        urls = body(put_json(api, ["", b64(images.png())]))["data"]["images"]
        assert len(urls) == 1
        assert PostImage.objects.get().position == 0

    def test_a_data_url_prefix(self, api, user):
        urls = body(put_json(api, [f"data:image/jpeg;base64,{b64(images.jpeg())}"]))["data"]
        assert opened(urls["images"][0])[1].format == "WEBP"

    def test_a_4000_by_3000_photo_fits_within_1080_keeping_its_aspect_ratio(self, api, user):
        urls = body(put_json(api, [b64(images.jpeg(size=(4000, 3000)))]))["data"]["images"]
        assert opened(urls[0])[1].size == (1080, 810)

    def test_a_tall_image_fits_within_1080(self, api, user):
        urls = body(put_json(api, [b64(images.png(size=(300, 1200)))]))["data"]["images"]
        assert opened(urls[0])[1].size == (270, 1080)

    def test_a_small_image_is_never_upscaled(self, api, user):
        urls = body(put_json(api, [b64(images.png(size=(30, 700)))]))["data"]["images"]
        assert opened(urls[0])[1].size == (30, 700)

    def test_exif_gps_icc_and_comments_are_dropped_after_the_orientation_is_applied(
        self, api, user
    ):
        original = images.jpeg_with_metadata()
        source = Image.open(io.BytesIO(original))
        assert source.getexif().get_ifd(images.GPS_IFD)  # the input does carry GPS tags
        assert {"exif", "icc_profile", "comment"} <= set(source.info)
        urls = body(put_json(api, [b64(original)]))["data"]["images"]
        data, stored = opened(urls[0])
        assert stored.size == (40, 60)  # orientation 6: shown rotated by 90°
        assert not stored.getexif()
        assert not set(stored.info) & {"exif", "icc_profile", "xmp", "comment"}
        assert b"EXIF" not in data and b"ICCP" not in data and b"home address" not in data

    def test_the_url_serves_the_file(self, api, user):
        url = body(put_json(api, [b64(images.png())]))["data"]["images"][0]
        fetched = media.fetch(url)
        assert (fetched.status, fetched.content_type) == (200, "image/webp")
        assert Image.open(io.BytesIO(fetched.content)).format == "WEBP"

    def test_every_list_shows_the_images_of_every_post(self, api, user, bob, client_for):
        befriend(bob, user)
        first = body(put_json(api, [b64(images.png()), b64(images.jpeg())]))["data"]
        plain = body(put_json(api, [], time=1_700_000_000_001))["data"]
        second = body(put_json(api, [b64(images.animated_gif())], time=1_700_000_000_002))["data"]
        # Names, not URLs: a signed URL made a second later is another URL for the same file.
        expected = [names_of(post) for post in (second, plain, first)]
        assert expected[1] == [] and len(expected[0]) == 1 and len(expected[2]) == 2
        bobs = client_for(bob)
        for path, params in [
            ("/getPost", {"oldTime": 0}),
            ("/getPost", {"email": ALICE}),
            ("/get_friend_post", {"email": bob.email}),
        ]:
            listed = body(bobs.get(path, params))["data"]
            assert [names_of(post) for post in listed] == expected, path


class TestRejected:
    @pytest.mark.parametrize("put", PUTS, ids=PUT_IDS)
    def test_ten_images_are_9400(self, api, user, put):
        sent = [b64(images.png(size=(8, 8)))] * 10
        assert_nothing_stored(put(api, sent), message="9")

    @pytest.mark.parametrize("put", PUTS, ids=PUT_IDS)
    def test_a_non_image_among_images_stores_nothing(self, api, user, put):
        sent = [b64(images.png()), b64(b"Just some text, not an image.\n" * 10), b64(images.png())]
        assert_nothing_stored(put(api, sent), message="第 2 张图片")

    def test_invalid_base64(self, api, user):
        assert_nothing_stored(put_json(api, ["this is not base64!"]), message="base64")

    def test_a_format_outside_the_four(self, api, user):
        bmp = images.encode(Image.new("RGB", (10, 10)), "BMP")
        assert_nothing_stored(put_json(api, [b64(bmp)]), message="PNG、JPEG、GIF 或 WebP")

    def test_over_16_megapixels(self, api, user):
        # 4001×4000: one row over 16 MP
        assert_nothing_stored(put_json(api, [b64(images.png_bomb(4001, 4000))]), message="16")

    def test_exactly_16_megapixels_is_accepted(self, api, user):
        png = images.paeth_png(images.LIMIT_SIZE, colour_type=2)
        urls = body(put_json(api, [b64(png)]))["data"]["images"]
        assert opened(urls[0])[1].size == (1080, 1080)

    def test_the_attackers_40_megapixel_webp_is_refused_from_its_header(self, api, user):
        webp = images.encode(
            Image.new("RGBA", (6400, 6250), (10, 20, 30, 128)), "WEBP", lossless=True
        )
        started = time.process_time()
        response = put_json(api, [b64(webp)])
        assert time.process_time() - started < 0.2
        assert_nothing_stored(response, message="16 百万像素")

    def test_a_decompression_bomb_is_never_decoded(self, api, user, monkeypatch):
        bomb = b64(images.png_bomb(20000, 20000))  # 400 MP: 400 MB once decoded

        def never_decode(image):
            raise AssertionError("the pixels of a bomb must not be decoded")

        monkeypatch.setattr(ImageFile.ImageFile, "load", never_decode)
        assert_nothing_stored(put_json(api, [bomb]))

    def test_a_bad_image_after_good_ones_leaves_no_file(self, api, user):
        sent = [b64(images.png(size=(20, 20), colour=colour)) for colour in COLOURS[:8]]
        assert_nothing_stored(put_json(api, [*sent, b64(b"nope")]), message="第 9 张图片")

    @pytest.mark.parametrize("value", ["one string", [1, 2], {"a": "b"}, [None], True])
    def test_images_in_json_must_be_an_array_of_strings(self, api, user, value):
        assert_nothing_stored(put_json(api, value))

    def test_a_body_over_8_mib_is_413_and_stores_nothing(self, api, user):
        one_mib = b64(images.png(size=(4, 4)) + b"\x00" * MiB)
        response = put_json(api, [one_mib] * 7)  # 7 × 1.33 MiB of base64
        assert response.status_code == 413
        assert response.json() == {"status": 9413, "msg": "请求体过大"}
        assert not Post.objects.exists() and stored_files() == []

    def test_the_check_order_holds_with_images(self, api, user, bob):
        bad = [b64(b"nope")]
        # the missing-parameter code, then ownership, before any image is looked at
        answer = body(put_json(api, bad, message=""))
        assert answer == {"status": 3000, "msg": "缺少有效参数"}
        assert body(put_json(api, bad, email=bob.email), 403)["status"] == 9403
        # a bad message is 9400 too, and no image is decoded or stored for it
        response = put_json(api, [b64(images.png())], message="x" * 2001)
        assert list(body(response, 400)["errors"]) == ["message"]
        assert stored_files() == []

    def test_a_failure_while_storing_the_post_deletes_its_files(self, api, user):
        """The files are written before the transaction; when it fails, they go."""

        def fail(**kwargs):
            raise RuntimeError("injected after the files were written")

        post_save.connect(fail, sender=Post, dispatch_uid="test-post-images-fail")
        try:
            api.raise_request_exception = False
            response = put_json(api, [b64(images.png()), b64(images.jpeg())])
        finally:
            post_save.disconnect(sender=Post, dispatch_uid="test-post-images-fail")
        assert body(response, 500) == {"status": 9500, "msg": "服务器内部错误"}
        assert not Post.objects.exists() and not PostImage.objects.exists()
        assert stored_files() == []


class TestDeletion:
    def post_with_images(self, api, count=3, **fields):
        sent = [b64(images.png(size=(20, 20), colour=colour)) for colour in COLOURS[:count]]
        data = body(put_json(api, sent, **fields))["data"]
        return data, [media.name_of(url) for url in data["images"]]

    def test_del_post_deletes_the_files_after_commit(
        self, api, user, django_capture_on_commit_callbacks
    ):
        post, names = self.post_with_images(api)
        _, kept = self.post_with_images(api, count=1, time=1_700_000_000_001)
        with django_capture_on_commit_callbacks() as callbacks:
            answer = body(api.get("/delPost", {"email": ALICE, "id": post["id"]}))
            assert answer == {"status": 3005, "msg": "删除成功"}
            assert all(default_storage.exists(name) for name in names)  # not before the commit
        assert not PostImage.objects.filter(post_id=post["id"]).exists()
        for callback in callbacks:
            callback()
        assert not any(default_storage.exists(name) for name in names)
        assert stored_files() == [kept[0].removeprefix("posts/")]

    def test_a_failing_delete_keeps_the_post_and_its_files(
        self, api, user, django_capture_on_commit_callbacks
    ):
        post, names = self.post_with_images(api)

        def fail(**kwargs):
            raise RuntimeError("injected midway")

        post_delete.connect(fail, sender=Post, dispatch_uid="test-post-images-delete-fails")
        try:
            api.raise_request_exception = False
            with django_capture_on_commit_callbacks(execute=True) as callbacks:
                response = api.get("/delPost", {"email": ALICE, "id": post["id"]})
        finally:
            post_delete.disconnect(sender=Post, dispatch_uid="test-post-images-delete-fails")
        assert body(response, 500)["status"] == 9500
        assert callbacks == []
        assert PostImage.objects.filter(post_id=post["id"]).count() == 3
        assert all(default_storage.exists(name) for name in names)

    def test_deleting_the_account_deletes_the_files_after_commit(
        self, api, user, bob, client_for, django_capture_on_commit_callbacks
    ):
        _, hers = self.post_with_images(api)
        bobs = client_for(bob)
        _, his = self.post_with_images(bobs, count=2, email=bob.email)
        with django_capture_on_commit_callbacks() as callbacks:
            answer = body(api.post("/delete_account", {"email": ALICE, "pass": PASSWORD}))
            assert answer == {"status": 1015, "msg": "账号已注销"}
            assert all(default_storage.exists(name) for name in hers)
        for callback in callbacks:
            callback()
        assert not any(default_storage.exists(name) for name in hers)
        assert all(default_storage.exists(name) for name in his)

    def test_the_admin_deletes_a_post_and_its_files_after_commit(
        self, api, user, superuser_client, django_capture_on_commit_callbacks
    ):
        post, names = self.post_with_images(api)
        page = reverse("admin:feed_post_delete", args=[post["id"]])
        confirmation = superuser_client.get(page)
        assert confirmation.status_code == 200
        assert "动态图片" in confirmation.content.decode()  # listed with what goes
        with django_capture_on_commit_callbacks(execute=True):
            assert superuser_client.post(page, {"post": "yes"}).status_code == 302
        assert not Post.objects.exists() and not PostImage.objects.exists()
        assert stored_files() == []

    def test_the_admins_delete_action_deletes_the_files_after_commit(
        self, api, user, superuser_client, django_capture_on_commit_callbacks
    ):
        first, _ = self.post_with_images(api)
        second, _ = self.post_with_images(api, count=2, time=1_700_000_000_001)
        kept, kept_names = self.post_with_images(api, count=1, time=1_700_000_000_002)
        selected = {"action": "delete_selected", "_selected_action": [first["id"], second["id"]]}
        changelist = reverse("admin:feed_post_changelist")
        with django_capture_on_commit_callbacks(execute=True):
            response = superuser_client.post(changelist, {**selected, "post": "yes"})
        assert response.status_code == 302
        assert list(Post.objects.values_list("pk", flat=True)) == [kept["id"]]
        assert stored_files() == [kept_names[0].removeprefix("posts/")]


class TestAdmin:
    def test_the_post_page_shows_its_images_as_thumbnails_read_only(
        self, api, user, superuser_client
    ):
        post = body(put_json(api, [b64(images.png()), b64(images.jpeg())]))["data"]
        response = superuser_client.get(reverse("admin:feed_post_change", args=[post["id"]]))
        assert response.status_code == 200
        content = response.content.decode()
        # The file system's URLs are the site's own paths, the bucket's absolute.
        thumbnails = [
            [media.name_of(urljoin("http://testserver/", html.unescape(url))) for url in pair]
            for pair in re.findall(r'<a href="([^"]+)"><img src="([^"]+)"', content)
        ]
        links, sources = [link for link, _ in thumbnails], [source for _, source in thumbnails]
        assert links == sources == names_of(post)
        assert "image_thumbnails" not in response.context["adminform"].form.fields
        assert 'type="file"' not in content

    def test_a_post_without_images(self, superuser_client, bob):
        post = make_post(bob)
        response = superuser_client.get(reverse("admin:feed_post_change", args=[post.pk]))
        assert response.status_code == 200
        content = response.content.decode()
        assert "field-image_thumbnails" in content and '<div class="readonly">—</div>' in content
        assert "/media/posts/" not in content


# What working on a 1080×1080 result takes beside the decoded image (resampling, colour
# transform, the encoder's buffers): 17-21 MiB measured for the dearest inputs.
RESULT_MEMORY = 32 * MiB


# What the pipeline may cost for a post image, in decodes of the input and encodings of the
# result. Decoding once, then a premultiplied average over the whole decoded frame where the
# image has alpha (floating point: 0.16 s against Pillow's 0.20 s decode of a grey and alpha
# PNG, measured), hence decodes 2.5 (2 left that PNG's whole pipeline 0.1 % over, 0.4246 s
# against 0.4241, on CI's machine, and 19 % under on another). Encoding the result once,
# Lanczos from at most 4 MP down to about 1 MP (as dear as an encoding) and the colour
# conversion, hence encodings 3. Resampling the full frame instead of the reduced one costs
# another 1.0-1.4 decodes (measured); converting it, little CPU but a frame's worth of memory,
# which the memory bound catches; decoding every frame of an animation, thousands.
DECODES = 2.5
ENCODINGS = 3


class TestCost:
    """Within the post images' box the work after decoding is the avatars' plus that of a result
    five times larger (1080×1080), whose encoding alone costs more than decoding the cheapest
    16 MP inputs: the work stays within DECODES decodes of the input and ENCODINGS encodings of
    the result (the reduced image is at most 4 MP: no input makes it grow), and memory within
    half as much again as the decoded first frame plus RESULT_MEMORY."""

    @pytest.mark.image_cost
    @pytest.mark.parametrize("name", images.WORST_INPUTS)
    def test_the_pipeline_costs_a_few_decodes_and_encodings(self, tmp_path, name):
        cost = images.measure(tmp_path, images.worst_input(name), box=POST_IMAGE_BOX)
        bound = DECODES * cost["decode_cpu"] + ENCODINGS * cost["encode_cpu"]
        assert cost["pipeline_cpu"] < bound, cost
        assert cost["rss_growth"] <= 1.5 * cost["decoded_bytes"] + RESULT_MEMORY, cost

    @pytest.mark.parametrize("name", images.WORST_INPUTS)
    def test_through_the_api(self, api, user, name):
        urls = body(put_json(api, [b64(images.worst_input(name))]))["data"]["images"]
        assert max(opened(urls[0])[1].size) == 1080


@pytest.mark.skipif(connection.vendor != "sqlite", reason="a plan of SQLite's query planner")
def test_the_images_of_a_page_are_read_through_the_constraints_index(api, user, bob):
    make_post(bob)
    with CaptureQueriesContext(connection) as queries:
        assert body(api.get("/getPost", {"email": bob.email}))["status"] == 3002
    (sql,) = [query["sql"] for query in queries if 'FROM "feed_postimage"' in query["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        plan = "\n".join(row[-1] for row in cursor.fetchall())
    # the unique (post, position) constraint's index (SQLite's own name for it): each post's
    # range, already in position order
    assert re.search(r"SEARCH feed_postimage USING INDEX \w+ \(post_id=\?\)", plan), plan
    assert "SCAN feed_postimage" not in plan and "TEMP B-TREE" not in plan, plan


@pytest.mark.django_db(transaction=True)
class TestRaces:
    def test_posts_refused_by_the_limit_at_the_write_leave_no_file(self, make_user):
        """20 posts with an image at once when the user has room for 5: every one has decoded
        and written its file before the count refuses 15 of them; their files go."""
        author = make_user()
        token = AuthToken.objects.issue(author)
        client = ApiClient(token)
        for number in range(25):
            data = post_fields(email=author.email, time=number)
            assert client.post("/putPost", data).json()["status"] == 3001

        def call(number):
            each = ApiClient(token)
            fields = post_fields(email=author.email, time=1000 + number)
            return lambda: put_json(each, [b64(images.png(size=(16, 16)))], **fields)

        answers = responses_in_threads([call(number) for number in range(20)])
        assert sorted(answer["status"] for _, answer in answers) == [3001] * 5 + [9429] * 15
        assert PostImage.objects.count() == 5
        assert sorted(PostImage.objects.values_list("file", flat=True)) == [
            f"posts/{name}" for name in stored_files()
        ]

    def test_a_post_racing_its_authors_deletion_leaves_no_file(self, make_user):
        """Whichever goes first, no file of the author's is left: a post stored first goes with
        the account; one after finds no author and deletes what it wrote."""
        author = make_user()
        token = AuthToken.objects.issue(author)
        poster, deleter = ApiClient(token), ApiClient(token)
        answers = responses_in_threads(
            [
                lambda: put_json(poster, [b64(images.png())] * 3, email=author.email),
                lambda: deleter.post("/delete_account", {"email": author.email, "pass": PASSWORD}),
            ]
        )
        statuses = sorted(answer["status"] for _, answer in answers)
        assert statuses in ([1015, 3001], [1015, 3000], [1015, 9401]), answers
        assert not Post.objects.exists() and not PostImage.objects.exists()
        assert stored_files() == []


def test_the_reduction_of_avatars_is_unchanged_by_the_pixel_cap():
    """MAX_REDUCED_PIXELS only ever changes the factor for a box larger than an avatar's: for
    every size up to the 16 MP limit, an avatar is reduced as by the gap alone."""
    for width in range(1, 16_001, 37):
        for height in range(1, min(16_000, avatars.MAX_PIXELS // width) + 1, 41):
            scale = max(width / 512, height / 512)
            by_the_gap = max(1, int(scale / avatars.REDUCING_GAP))
            assert avatars._reduce_factor((width, height), (512, 512)) == by_the_gap


def test_a_16_mp_image_within_1080_is_reduced_to_no_more_than_the_cap():
    assert avatars._reduce_factor((4000, 4000), POST_IMAGE_BOX) == 2
    assert avatars._reduce_factor((2100, 2100), POST_IMAGE_BOX) == 1  # never below the box
