"""The avatar pipeline: untrusted bytes (base64 from the API, an upload from the admin) in, a
small, metadata-free WebP file in media storage out (API.md, /reset `img`).

Every avatar is re-encoded as WebP: one format for all, with alpha, small files, and nothing of
the uploaded file's bytes survives. Images are checked before their pixels are decoded: the
format (PNG, JPEG, GIF or WebP only), the byte size and the pixel count from the header, so that
a decompression bomb is refused after reading a few bytes of it."""

import base64
import binascii
import io
import re
import secrets
import struct
import zlib

from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image, ImageCms, ImageOps

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 512
ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
OUTPUT_EXTENSION = "webp"
OUTPUT_QUALITY = 85

DATA_URL = re.compile(r"data:image/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,", re.IGNORECASE)
BASE64_ALPHABET = re.compile(rb"[A-Za-z0-9+/]*={0,2}")
WHITESPACE = re.compile(rb"\s+")

# What Pillow raises on a malformed or hostile file while opening or decoding it. Its own
# decompression bomb checks are here too (the warning is raised when warnings are errors).
UNREADABLE = (
    OSError,  # UnidentifiedImageError, truncated files, decoder errors
    SyntaxError,
    ValueError,
    TypeError,
    IndexError,
    EOFError,
    struct.error,
    zlib.error,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


class InvalidAvatar(ValueError):
    """The input is not an acceptable avatar; the message is for the user."""


def decode_base64(text):
    """The bytes of a base64 string, raw or as a `data:image/...;base64,` URL. Line breaks are
    allowed (MIME style); missing padding is added; the size limit is checked before decoding."""
    prefix = DATA_URL.match(text)
    if prefix:
        text = text[prefix.end() :]
    elif text[:5].lower() == "data:":
        raise InvalidAvatar("只接受 data:image/...;base64, 格式的 data URL。")
    try:
        encoded = WHITESPACE.sub(b"", text.encode("ascii"))
    except UnicodeEncodeError:
        raise InvalidAvatar("不是有效的 base64 编码。") from None
    if len(encoded) // 4 * 3 > MAX_BYTES + 3:
        raise InvalidAvatar(f"图片不能超过 {MAX_BYTES // (1024 * 1024)} MiB。")
    if not encoded or not BASE64_ALPHABET.fullmatch(encoded) or len(encoded) % 4 == 1:
        raise InvalidAvatar("不是有效的 base64 编码。")
    try:
        return base64.b64decode(encoded + b"=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidAvatar("不是有效的 base64 编码。") from None


def normalize(data):
    """Check and re-encode image bytes: returns a ContentFile named `<random>.webp`, at most
    512×512, EXIF orientation applied, first frame only, no metadata. InvalidAvatar otherwise."""
    if len(data) > MAX_BYTES:
        raise InvalidAvatar(f"图片不能超过 {MAX_BYTES // (1024 * 1024)} MiB。")
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except UNREADABLE:
        raise InvalidAvatar("无法识别的图片，只接受 PNG、JPEG、GIF 或 WebP。") from None
    with image:
        width, height = image.size
        # Image.open has read only the header: nothing is decoded yet.
        if width * height > MAX_PIXELS:
            raise InvalidAvatar(f"图片不能超过 {MAX_PIXELS // 1_000_000} 百万像素。")
        try:
            # JPEG decodes straight at 1/2, 1/4 or 1/8 scale when that still covers 512×512.
            image.draft(None, (MAX_SIDE, MAX_SIDE))
            image.load()  # the first frame of an animation
            icc_profile = image.info.get("icc_profile")
            upright = ImageOps.exif_transpose(image)
            pixels = _to_srgb(upright, icc_profile)
            pixels.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
        except UNREADABLE:
            raise InvalidAvatar("图片文件已损坏或不完整。") from None
    # A fresh image holds the pixels and nothing else: no EXIF, GPS, XMP, ICC or comments.
    clean = Image.new(pixels.mode, pixels.size)
    clean.paste(pixels)
    buffer = io.BytesIO()
    clean.save(buffer, format="WEBP", quality=OUTPUT_QUALITY, method=4)
    return ContentFile(buffer.getvalue(), name=f"{secrets.token_hex(16)}.{OUTPUT_EXTENSION}")


def _has_alpha(image):
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _to_srgb(image, icc_profile):
    """RGB or RGBA pixels in sRGB: the embedded colour profile is applied, then dropped."""
    mode = "RGBA" if _has_alpha(image) else "RGB"
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        # 16-bit and float greyscale: scale to 8 bits before the conversion to RGB.
        image = image.point(lambda value: value / 256).convert("L")
    converted = image.convert(mode)
    if icc_profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            converted = ImageCms.profileToProfile(
                converted, source, ImageCms.createProfile("sRGB"), outputMode=mode
            )
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a broken or mismatched profile: keep the pixels as they are
    return converted


def from_base64(text):
    """The base64 `img` of the API, checked and re-encoded (see `normalize`)."""
    return normalize(decode_base64(text))


def from_upload(upload):
    """An uploaded file (the admin), checked and re-encoded (see `normalize`)."""
    if upload.size is not None and upload.size > MAX_BYTES:
        raise InvalidAvatar(f"图片不能超过 {MAX_BYTES // (1024 * 1024)} MiB。")
    upload.seek(0)
    return normalize(upload.read(MAX_BYTES + 1))


def delete_on_commit(field_file_or_name, storage):
    """Delete a replaced avatar file once the transaction that replaced it has committed (never
    before: a rollback keeps pointing at it). A failed delete is logged, not raised."""
    name = getattr(field_file_or_name, "name", field_file_or_name)
    if name:
        transaction.on_commit(lambda: storage.delete(name), robust=True)


def delete_avatar_of_deleted_user(sender, instance, **kwargs):
    """post_delete of User: the avatar file goes with the account."""
    delete_on_commit(instance.avatar, instance.avatar.storage)
