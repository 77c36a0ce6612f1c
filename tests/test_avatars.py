"""The avatar pipeline of /reset and /register2 (`img`), driven through the endpoints; its cost
for the worst inputs at its limits; the hourly limit of avatar changes."""

import io
import resource
import time
import tracemalloc

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageFile

from accounts.models import User
from tests import images, media
from tests.factories import register
from tests.images import b64
from tests.test_user_admin import change_form

pytestmark = [pytest.mark.django_db, pytest.mark.media_storage]

MiB = 1024 * 1024


def reset_img(api, img):
    return api.post("/reset", {"email": "alice@example.com", "img": img})


def stored(user):
    user.refresh_from_db()
    with default_storage.open(user.avatar.name) as file:
        data = file.read()
    return data, Image.open(io.BytesIO(data))


def assert_rejected(response, user, *, message=None):
    body = response.json()
    assert response.status_code == 400
    assert (body["status"], body["msg"]) == (9400, "参数格式错误")
    assert list(body["errors"]) == ["img"]
    if message:
        assert message in body["errors"]["img"][0]
    user.refresh_from_db()
    assert not user.avatar
    assert media.stored_names("avatars") == []


class TestAccepted:
    def test_jpeg_is_re_encoded_as_webp_under_a_random_name(self, api, user, rf):
        body = reset_img(api, b64(images.jpeg())).json()
        assert (body["status"], body["msg"]) == (1002, "修改成功")
        user.refresh_from_db()
        assert user.avatar.name.startswith("avatars/") and user.avatar.name.endswith(".webp")
        assert len(user.avatar.name) == len("avatars/") + 32 + len(".webp")
        assert media.name_of(body["data"]["img"]) == user.avatar.name
        _, image = stored(user)
        assert (image.format, image.size) == ("WEBP", (64, 48))

    def test_the_url_serves_the_file(self, api, user):
        url = reset_img(api, b64(images.png())).json()["data"]["img"]
        fetched = media.fetch(url)
        assert (fetched.status, fetched.content_type) == (200, "image/webp")
        assert Image.open(io.BytesIO(fetched.content)).format == "WEBP"

    def test_exif_gps_icc_and_comments_are_dropped_after_the_orientation_is_applied(
        self, api, user
    ):
        original = images.jpeg_with_metadata()
        source = Image.open(io.BytesIO(original))
        assert source.getexif().get_ifd(images.GPS_IFD)  # the input does carry GPS tags
        assert {"exif", "icc_profile", "comment"} <= set(source.info)

        assert reset_img(api, b64(original)).json()["status"] == 1002
        data, image = stored(user)
        assert image.size == (40, 60)  # orientation 6: shown rotated by 90°
        assert not image.getexif()
        assert not set(image.info) & {"exif", "icc_profile", "xmp", "comment"}
        assert b"EXIF" not in data and b"ICCP" not in data and b"home address" not in data

    def test_a_large_photo_fits_within_512_keeping_the_aspect_ratio(self, api, user):
        photo = images.jpeg(size=(4000, 3000))
        assert reset_img(api, b64(photo)).json()["status"] == 1002
        assert stored(user)[1].size == (512, 384)

    def test_a_tall_png_fits_within_512(self, api, user):
        assert reset_img(api, b64(images.png(size=(300, 1200)))).json()["status"] == 1002
        assert stored(user)[1].size == (128, 512)

    def test_png_transparency_is_kept(self, api, user):
        assert reset_img(api, b64(images.transparent_png())).json()["status"] == 1002
        image = stored(user)[1].convert("RGBA")
        red, green, blue, alpha = image.getpixel((8, 32))  # lossy WebP: colours within a few
        assert red > 245 and green < 10 and blue < 10 and alpha == 255
        assert image.getpixel((56, 32))[3] == 0

    def test_an_animated_gif_becomes_its_first_frame(self, api, user):
        gif = images.animated_gif()
        assert Image.open(io.BytesIO(gif)).n_frames == 3
        assert reset_img(api, b64(gif)).json()["status"] == 1002
        image = stored(user)[1]
        assert not getattr(image, "is_animated", False)
        red, green, blue = image.convert("RGB").getpixel((16, 16))
        assert red > 200 and green < 50 and blue < 50

    @pytest.mark.parametrize("mime", ["image/png", "IMAGE/PNG", "image/jpeg"])
    def test_a_data_url_prefix(self, api, user, mime):
        body = reset_img(api, f"data:{mime};base64,{b64(images.png())}").json()
        assert body["status"] == 1002
        assert stored(user)[1].format == "WEBP"

    def test_mime_line_breaks_and_missing_padding_are_accepted(self, api, user):
        encoded = b64(images.png(size=(5, 5))).rstrip("=")
        wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
        assert reset_img(api, wrapped).json()["status"] == 1002

    def test_exactly_16_megapixels(self, api, user):
        png = images.paeth_png(images.LIMIT_SIZE, colour_type=2)
        assert reset_img(api, b64(png)).json()["status"] == 1002
        assert stored(user)[1].size == (512, 512)

    def test_the_orientation_of_a_png_is_applied(self, api, user):
        png = images.paeth_png((60, 40), colour_type=2, chunks=images.png_metadata_chunks())
        assert reset_img(api, b64(png)).json()["status"] == 1002
        assert stored(user)[1].size == (40, 60)

    @pytest.mark.parametrize("colour_type", [0, 4, 6])
    def test_16_bit_pngs(self, api, user, colour_type):
        png = images.paeth_png((1500, 1000), bit_depth=16, colour_type=colour_type)
        assert reset_img(api, b64(png)).json()["status"] == 1002
        assert stored(user)[1].size == (512, 341)

    def test_a_cmyk_jpeg_is_converted_with_its_cmyk_profile(self, api, user):
        cyan = images.encode(
            Image.new("CMYK", (64, 64), (255, 0, 0, 0)), "JPEG", icc_profile=images.cmyk_profile()
        )
        assert reset_img(api, b64(cyan)).json()["status"] == 1002
        red, green, blue = stored(user)[1].convert("RGB").getpixel((32, 32))
        # The profile's cyan is (0, 206, 242); without it, it would be (0, 255, 255).
        assert red < 20 and 190 < green < 225 and blue > 225

    def test_a_large_transparent_png_is_shrunk_without_dark_fringes(self, api, user):
        image = Image.new("RGBA", (2048, 2048), (0, 0, 0, 0))
        image.paste((255, 0, 0, 255), (0, 0, 1022, 2048))
        assert reset_img(api, b64(images.encode(image, "PNG"))).json()["status"] == 1002
        edge = stored(user)[1].convert("RGBA").getpixel((255, 256))
        assert edge[3] > 64 and edge[0] > 230 and edge[1] < 20  # red where half covered, not dark

    def test_an_animated_gif_whose_first_frame_clears_itself(self, api, user):
        first = Image.new("P", (32, 32), 1)
        first.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)  # 0: transparent, 1: red
        gif = images.animated_gif_of(first, 50, disposal=2)
        assert Image.open(io.BytesIO(gif)).n_frames == 50
        assert reset_img(api, b64(gif)).json()["status"] == 1002
        red, green, blue, alpha = stored(user)[1].convert("RGBA").getpixel((16, 16))
        assert red > 200 and green < 50 and blue < 50 and alpha == 255

    def test_an_animated_webp_becomes_its_first_frame(self, api, user):
        blue = images.encode(Image.new("RGBA", (40, 30), (0, 0, 255, 255)), "WEBP", lossless=True)
        webp = images.animated_webp(blue, 50)
        assert Image.open(io.BytesIO(webp)).n_frames == 50
        assert reset_img(api, b64(webp)).json()["status"] == 1002
        image = stored(user)[1]
        assert image.size == (40, 30)
        red, green, blue, _ = image.convert("RGBA").getpixel((20, 15))
        assert red < 20 and green < 20 and blue > 230

    def test_json_body(self, api, user):
        body = api.post_json("/reset", {"email": "alice@example.com", "img": b64(images.png())})
        assert body.json()["status"] == 1002


class TestRejected:
    def test_invalid_base64(self, api, user):
        assert_rejected(reset_img(api, "this is not base64!"), user, message="base64")

    def test_a_text_file(self, api, user):
        text = b64(b"Just some text, not an image at all.\n" * 10)
        assert_rejected(reset_img(api, text), user, message="PNG、JPEG、GIF 或 WebP")

    def test_a_data_url_of_another_type(self, api, user):
        assert_rejected(reset_img(api, f"data:text/plain;base64,{b64(b'hi')}"), user)

    def test_a_format_outside_the_four(self, api, user):
        bmp = images.encode(Image.new("RGB", (10, 10)), "BMP")
        assert_rejected(reset_img(api, b64(bmp)), user, message="PNG、JPEG、GIF 或 WebP")

    @pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
    def test_a_truncated_file(self, api, user, fmt):
        data = images.encode(images.noise(), fmt)
        assert Image.open(io.BytesIO(data)).size == (200, 200)  # the header is all there
        assert_rejected(reset_img(api, b64(data[: len(data) // 2])), user)

    def test_truncated_is_never_loaded_leniently(self, api, user):
        assert ImageFile.LOAD_TRUNCATED_IMAGES is False

    def test_more_than_5_mib_decoded(self, api, user):
        # 5.5 MiB decoded: the body (~7.3 MiB of base64) is under the 8 MiB request limit.
        data = images.png(size=(4, 4)) + b"\x00" * int(5.5 * MiB)
        assert_rejected(reset_img(api, b64(data)), user, message="5 MiB")

    def test_6_mib_is_over_the_request_limit(self, api, user):
        response = reset_img(api, b64(b"\x00" * (6 * MiB)))
        assert response.status_code == 413
        assert response.json() == {"status": 9413, "msg": "请求体过大"}

    def test_6_mib_with_a_larger_request_limit(self, api, user, settings):
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * MiB
        data = images.jpeg() + b"\x00" * (6 * MiB)
        assert_rejected(reset_img(api, b64(data)), user, message="5 MiB")

    def test_over_16_megapixels(self, api, user):
        # 4001×4000: one row over 16 MP, and far under Pillow's own bomb limit.
        assert_rejected(reset_img(api, b64(images.png_bomb(4001, 4000))), user, message="16")

    def test_the_attackers_40_megapixel_webp_is_refused_from_its_header(self, api, user):
        # The 1.6 KB lossless WebP of 40 MP that used to cost 1 s of CPU and 900 MiB.
        webp = images.encode(
            Image.new("RGBA", (6400, 6250), (10, 20, 30, 128)), "WEBP", lossless=True
        )
        assert len(webp) < 2048
        started = time.process_time()
        response = reset_img(api, b64(webp))
        assert time.process_time() - started < 0.2
        assert_rejected(response, user, message="16 百万像素")

    def test_a_jpeg_of_thousands_of_scans_is_refused_before_decoding(self, api, user):
        # 85 KB: each of its 3,000 scans makes libjpeg go over all of the image again (seconds
        # of CPU, minutes for 5 MiB of them), whatever the scale it decodes at.
        jpeg = images.progressive_jpeg_with_scans(Image.new("L", (2000, 2000), 128), 3000)
        started = time.process_time()
        response = reset_img(api, b64(jpeg))
        assert time.process_time() - started < 0.2
        assert_rejected(response, user, message="100")

    def test_a_decompression_bomb_costs_neither_time_nor_memory(self, api, user, monkeypatch):
        bomb = images.png_bomb(20000, 20000)  # 400 MP: 400 MB once decoded
        assert len(bomb) < 64 * 1024
        body = b64(bomb)

        def never_decode(image):
            raise AssertionError("the pixels of a bomb must not be decoded")

        # The first request of a process loads the URLconf and the views: not the bomb's cost.
        assert_rejected(reset_img(api, b64(b"not an image")), user)
        monkeypatch.setattr(ImageFile.ImageFile, "load", never_decode)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        tracemalloc.start()
        started = time.perf_counter()
        try:
            response = reset_img(api, body)
            elapsed = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before

        assert_rejected(response, user)
        assert elapsed < 1
        assert peak < 8 * MiB
        assert rss_growth < 50 * 1024

    def test_a_bomb_under_pillows_warning_threshold_never_becomes_a_500(self, api, user):
        # 10000×10000 = 100 MP: Pillow warns (an error under pytest's warning filter).
        response = reset_img(api, b64(images.png_bomb(10000, 10000)))
        assert_rejected(response, user)

    def test_other_fields_are_not_changed_when_the_image_is_bad(self, api, user):
        response = api.post(
            "/reset", {"email": "alice@example.com", "name": "New", "img": b64(b"nope")}
        )
        assert response.status_code == 400
        user.refresh_from_db()
        assert user.name == "Alice"


class TestReplacement:
    def test_the_replaced_file_is_deleted_after_the_commit(
        self, api, user, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            assert reset_img(api, b64(images.png())).json()["status"] == 1002
        first = User.objects.get(pk=user.pk).avatar.name
        assert default_storage.exists(first)

        with django_capture_on_commit_callbacks() as callbacks:
            assert reset_img(api, b64(images.jpeg())).json()["status"] == 1002
        second = User.objects.get(pk=user.pk).avatar.name
        assert second != first
        assert default_storage.exists(first)  # not before the transaction commits
        for callback in callbacks:
            callback()
        assert not default_storage.exists(first)
        assert default_storage.exists(second)
        assert media.stored_names("avatars") == [second.removeprefix("avatars/")]

    def test_the_same_image_twice_keeps_the_current_file(
        self, api, user, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            reset_img(api, b64(images.png()))
            reset_img(api, b64(images.png()))
        user.refresh_from_db()
        assert default_storage.exists(user.avatar.name)
        assert len(media.stored_names("avatars")) == 1

    def test_a_failed_change_keeps_the_old_file(
        self, api, user, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            reset_img(api, b64(images.png()))
            first = User.objects.get(pk=user.pk).avatar.name
            response = api.post(
                "/reset", {"email": "alice@example.com", "sex": "?", "img": b64(images.jpeg())}
            )
        assert response.status_code == 400
        assert User.objects.get(pk=user.pk).avatar.name == first
        assert media.stored_names("avatars") == [first.removeprefix("avatars/")]

    def test_deleting_the_user_deletes_the_file(
        self, api, user, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            reset_img(api, b64(images.png()))
            name = User.objects.get(pk=user.pk).avatar.name
            User.objects.filter(pk=user.pk).delete()
        assert not default_storage.exists(name)


class TestRegister2:
    def test_img_goes_through_the_pipeline(self, anon, mailoutbox):
        img = "data:image/jpeg;base64," + b64(images.jpeg_with_metadata())
        response = register(anon, mailoutbox, img=img)
        body = response.json()
        assert body["status"] == 1005
        new = User.objects.get(email="new@example.com")
        assert media.name_of(body["data"]["img"]) == new.avatar.name
        data, image = stored(new)
        assert (image.format, image.size) == ("WEBP", (40, 60))
        assert b"EXIF" not in data

    def test_a_bad_img_creates_no_account(self, anon, mailoutbox):
        response = register(anon, mailoutbox, img="@@")
        assert response.status_code == 400
        assert list(response.json()["errors"]) == ["img"]
        assert not User.objects.filter(email="new@example.com").exists()


class TestCost:
    """Whatever the input, the work after decoding costs less than the decoding itself, and
    memory stays within half as much again as the decoded first frame (API.md, /reset)."""

    @pytest.mark.image_cost
    @pytest.mark.parametrize("name", images.WORST_INPUTS)
    def test_the_pipeline_costs_less_than_twice_decoding(self, tmp_path, name):
        data = images.worst_input(name)
        assert len(data) <= 5 * MiB
        cost = images.measure(tmp_path, data)
        assert cost["pipeline_cpu"] < 2 * cost["decode_cpu"], cost
        assert cost["rss_growth"] <= 1.5 * cost["decoded_bytes"], cost

    @pytest.mark.parametrize("name", images.WORST_INPUTS)
    def test_through_the_api(self, api, user, name):
        assert reset_img(api, b64(images.worst_input(name))).json()["status"] == 1002
        assert max(stored(user)[1].size) == 512


class TestHourlyLimit:
    """At most 10 avatar changes per user per hour; the limit is checked before the image is
    decoded, and counts the changes made."""

    def test_the_11th_change_is_refused_before_its_image_is_decoded(self, api, user):
        for _ in range(10):
            assert reset_img(api, b64(images.png())).json()["status"] == 1002
        avatar = User.objects.get(pk=user.pk).avatar.name

        # Not an image at all, yet 9429 and not 9400: nothing of it was looked at.
        response = reset_img(api, b64(b"not an image"))
        assert response.status_code == 429
        assert response.json() == {"status": 9429, "msg": "请求过于频繁"}
        assert 1 <= int(response["Retry-After"]) <= 3600
        # A rate limit comes before the missing-parameter code (API.md's check order).
        assert api.post("/reset", {"img": b64(images.png())}).json()["status"] == 9429
        assert User.objects.get(pk=user.pk).avatar.name == avatar
        # The rest of the profile can still be edited.
        assert api.post("/reset", {"email": user.email, "name": "New"}).json()["status"] == 1002

    def test_only_changes_made_count(self, api, user, bob):
        for _ in range(10):
            assert reset_img(api, b64(b"not an image")).status_code == 400
        assert api.post("/reset", {"email": bob.email, "img": b64(images.png())}).status_code == 403
        response = api.post("/reset", {"email": user.email, "sex": "?", "img": b64(images.png())})
        assert response.status_code == 400
        for _ in range(10):
            assert reset_img(api, b64(images.png())).json()["status"] == 1002
        assert reset_img(api, b64(images.png())).status_code == 429

    def test_each_user_has_their_own(self, api, user, bob, client_for):
        for _ in range(10):
            reset_img(api, b64(images.png()))
        assert reset_img(api, b64(images.png())).status_code == 429
        other = client_for(bob).post("/reset", {"email": bob.email, "img": b64(images.png())})
        assert other.json()["status"] == 1002

    def test_staff_uploads_in_the_admin_neither_count_nor_are_refused(
        self, api, user, superuser_client
    ):
        def upload():
            data = change_form(
                superuser_client, user, avatar=SimpleUploadedFile("a.png", images.png())
            )
            return superuser_client.post(f"/admin/accounts/user/{user.pk}/change/", data)

        for _ in range(3):
            assert upload().status_code == 302
        for _ in range(10):
            assert reset_img(api, b64(images.png())).json()["status"] == 1002
        assert reset_img(api, b64(images.png())).status_code == 429
        before = User.objects.get(pk=user.pk).avatar.name
        assert upload().status_code == 302
        assert User.objects.get(pk=user.pk).avatar.name != before
