"""Image captchas for /get_yzm and /login: the answer lives in the shared cache for 5 minutes,
bound to the client's `uuid`, and works once."""

import base64
import hashlib
import secrets
import threading

from captcha.image import ImageCaptcha
from django.core.cache import cache

from socialsite import ratelimit

TTL_SECONDS = 5 * 60
# Drawing and storing a captcha costs CPU and a cache row: a flood from one address gets 9429.
PER_ADDRESS_LIMIT = 30
PER_ADDRESS_WINDOW_SECONDS = 10 * 60
# No 0/O, 1/I/L, 2/Z, 5/S: characters people confuse in a distorted image.
ALPHABET = "ABCDEFGHJKMNPQRTUVWXY346789"
WIDTH, HEIGHT = 160, 60


def _key(uuid):
    return "captcha:" + hashlib.sha256(uuid.encode()).hexdigest()


def new_captcha(uuid, *, client_ip):
    """Make a new challenge for `uuid` (replacing any earlier one); returns base64 PNG."""
    ratelimit.hit(
        "captcha-address", client_ip, limit=PER_ADDRESS_LIMIT, window=PER_ADDRESS_WINDOW_SECONDS
    )
    answer = "".join(secrets.choice(ALPHABET) for _ in range(secrets.choice((4, 5, 6))))
    cache.set(_key(uuid), answer.lower(), TTL_SECONDS)
    return base64.b64encode(_draw(answer)).decode("ascii")


def check_captcha(uuid, answer):
    """True once for the right answer (case-insensitive); any try uses the challenge up."""
    if not uuid or not answer:
        return False
    key = _key(uuid)
    expected = cache.get(key)
    # delete() reports whether this request removed the key, so two racing tries can't both pass.
    return (
        expected is not None
        and cache.delete(key)
        # bytes: compare_digest refuses str with non-ASCII characters (a 500 for "中")
        and secrets.compare_digest(expected.encode(), answer.strip().lower().encode())
    )


class _Captcha(ImageCaptcha):
    """The captcha library's image (each character rotated and warped, pasted overlapping its
    neighbours, on noise dots and curves in the text's colour), closer and noisier than its
    defaults: those leave a gap before half the characters, and Tesseract read 2.8 % of them;
    these it reads about 0.3 % of the time (tests/test_captcha_ocr.py)."""

    word_space_probability = 0.2  # the library's: 0.5
    word_offset_dx = 0.4  # how far a character may overlap the one before (0.25)
    character_warp_dx = (0.1, 0.5)  # ((0.1, 0.3)) how far the corners of a character are pulled
    character_warp_dy = (0.2, 0.5)  # ((0.2, 0.3))
    noise_curves = 3  # (1)
    noise_dots = 60  # (30)

    def create_noise_curve(self, image, color):
        for _ in range(self.noise_curves):
            image = ImageCaptcha.create_noise_curve(image, color)
        return image

    def create_noise_dots(self, image, color, width=3, number=None):
        return ImageCaptcha.create_noise_dots(image, color, width, number or self.noise_dots)


# One instance: it loads its fonts once. They are FreeType faces, which FreeType does not let two
# threads use at once (a threaded server): one drawing at a time.
_IMAGE = _Captcha(width=WIDTH, height=HEIGHT)
_DRAWING = threading.Lock()


def _draw(text):
    with _DRAWING:
        return _IMAGE.generate(text, format="png").getvalue()
