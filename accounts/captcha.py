"""Image captchas for /get_yzm and /login: the answer lives in the shared cache for 5 minutes,
bound to the client's `uuid`, and works once."""

import base64
import hashlib
import io
import secrets

from django.core.cache import cache
from PIL import Image, ImageDraw, ImageFont

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
        and secrets.compare_digest(expected, answer.strip().lower())
    )


def _draw(text):
    rng = secrets.SystemRandom()
    image = Image.new("RGB", (WIDTH, HEIGHT), (245, 245, 240))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=34)
    step = (WIDTH - 20) / len(text)
    for index, char in enumerate(text):
        colour = tuple(rng.randint(20, 120) for _ in range(3))
        draw.text((10 + index * step, rng.randint(6, 18)), char, font=font, fill=colour)
    for _ in range(6):
        start = (rng.randint(0, WIDTH), rng.randint(0, HEIGHT))
        end = (rng.randint(0, WIDTH), rng.randint(0, HEIGHT))
        draw.line([start, end], fill=tuple(rng.randint(80, 200) for _ in range(3)), width=2)
    for _ in range(150):
        draw.point((rng.randint(0, WIDTH - 1), rng.randint(0, HEIGHT - 1)), fill=(90, 90, 90))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
