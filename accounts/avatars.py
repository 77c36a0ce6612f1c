"""The image pipeline: untrusted bytes (base64 from the API, an upload from the admin) in, a
small, metadata-free WebP file in media storage out (API.md, /reset `img`). Avatars are fitted
within 512×512; post images (feed.services, API.md /putPost `images`) within 1080×1080.

Every image is re-encoded as WebP: one format for all, with alpha, small files, and nothing of
the uploaded file's bytes survives. An image is checked before its pixels are decoded: the format
(PNG, JPEG, GIF or WebP only), the byte size, the pixel count from the header (so that a
decompression bomb is refused after reading a few bytes of it) and, for a JPEG, the number of
scans. Then it is shrunk while or right after it is decoded, and only the small image is rotated
and colour-converted, so that whatever the input the work after decoding costs less than the
decoding itself, and memory stays within about the size of the decoded image:

- JPEG: decoded by libjpeg at 1/2, 1/4 or 1/8 scale (Pillow's `draft`), then resampled.
- PNG: streamed by libvips, a few rows at a time, through a box filter: the full image is never
  held. (Pillow would hold all of it, as 4 bytes a pixel even for RGB or grey with alpha.)
- WebP: decoded by libwebp straight to the reduced size (libvips' loader). Pillow's decoder holds
  the image four times over (two canvases, a copy as bytes, the image).
- GIF: decoded by Pillow (1 byte a pixel, a palette) and decimated while still a palette image: a
  palette cannot be averaged, and converting the full image to RGBA would quadruple it."""

import base64
import binascii
import io
import re
import secrets
import struct
import zlib

import pyvips
from django.core.files.base import ContentFile
from django.db import transaction
from PIL import Image, ImageCms, PngImagePlugin

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 16_000_000
AVATAR_BOX = (512, 512)
ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
OUTPUT_EXTENSION = "webp"
OUTPUT_QUALITY = 85
# The image is reduced (box filter, integer factor) to at least this many times its final size,
# and only then resampled with Lanczos: Pillow's `reducing_gap`, with the same default.
REDUCING_GAP = 2.0
# At most this many pixels in the reduced image (16 MiB as RGBA) where the factor leaves a
# choice. An avatar's (512×512, reduced to less than 4 times that a side) never holds more; a
# post image's (1080×1080) would keep a 16 MP image whole, held two or three times over on its
# way to Pillow: it is reduced further instead, never below its box.
MAX_REDUCED_PIXELS = 2048 * 2048
# libjpeg decodes every scan of a progressive JPEG over the whole image, whatever the scale, and
# accepts any number of them: a 60 KB file of 2,000 tiny scans costs 2 s of CPU, 5 MiB of them
# minutes. Encoders write about 10; 100 is far beyond any real file.
MAX_JPEG_SCANS = 100
ORIENTATION = 0x0112
ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
MODE_OF_BANDS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
# Modes that Pillow resamples as they are (a palette image it would resize with NEAREST).
RESAMPLED_MODES = ("L", "LA", "RGB", "RGBA", "CMYK")

# Pillow keeps a PNG's text chunks (read with the header) in memory, up to 64 MiB of them by
# default: 64 KB of zTXt chunks would cost 64 MiB of memory. Nothing of them is kept anyway.
PngImagePlugin.MAX_TEXT_MEMORY = 4 * 1024 * 1024

# libvips decodes PNG and WebP, and nothing else: every other loader is blocked, so that no input
# can reach them. No operation cache (it would keep decoded images alive), one thread per decode
# (an upload occupies one core, as with Pillow).
pyvips.cache_set_max(0)
pyvips.concurrency_set(1)
pyvips.operation_block_set("VipsForeignLoad", True)
pyvips.operation_block_set("VipsForeignLoadPng", False)
pyvips.operation_block_set("VipsForeignLoadWebp", False)

DATA_URL = re.compile(r"data:image/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,", re.IGNORECASE)
BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# What a regular expression's \s matches in bytes; bytes.translate deletes it several times
# faster than re.sub over megabytes of text (which weighed a fifth of a JPEG avatar's pipeline).
ASCII_WHITESPACE = b" \t\n\r\x0b\x0c"
# A JPEG marker: 0xFF then neither a stuffed zero, a restart marker nor another 0xFF (fill).
JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
JPEG_SOS, JPEG_EOI, JPEG_TEM = 0xDA, 0xD9, 0x01
GIF_EXTENSION, GIF_GRAPHIC_CONTROL, GIF_IMAGE, GIF_TRAILER = 0x21, 0xF9, 0x2C, b";"
GIF_DISPOSAL_BITS = 0b00011100

# What Pillow and libvips raise on a malformed or hostile file while opening or decoding it.
# Pillow's decompression bomb checks are here too (the warning is raised when warnings are
# errors).
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
    pyvips.Error,
)


class InvalidAvatar(ValueError):
    """The input is not an acceptable image; the message is for the user."""


def decode_base64(text):
    """The bytes of a base64 string, raw or as a `data:image/...;base64,` URL. Line breaks are
    allowed (MIME style); missing padding is added; the size limit is checked before decoding."""
    prefix = DATA_URL.match(text)
    if prefix:
        text = text[prefix.end() :]
    elif text[:5].lower() == "data:":
        raise InvalidAvatar("只接受 data:image/...;base64, 格式的 data URL。")
    try:
        encoded = text.encode("ascii").translate(None, ASCII_WHITESPACE)
    except UnicodeEncodeError:
        raise InvalidAvatar("不是有效的 base64 编码。") from None
    if len(encoded) // 4 * 3 > MAX_BYTES + 3:
        raise InvalidAvatar(f"图片不能超过 {MAX_BYTES // (1024 * 1024)} MiB。")
    digits = encoded.rstrip(b"=")
    if (
        not digits
        or len(encoded) - len(digits) > 2
        or digits.translate(None, BASE64_ALPHABET)
        or len(encoded) % 4 == 1
    ):
        raise InvalidAvatar("不是有效的 base64 编码。")
    try:
        return base64.b64decode(encoded + b"=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidAvatar("不是有效的 base64 编码。") from None


def normalize(data, *, box=AVATAR_BOX):
    """Check and re-encode image bytes: returns a ContentFile named `<random>.webp`, fitted within
    `box` (width, height), EXIF orientation applied, colours in sRGB, first frame only, no
    metadata. InvalidAvatar otherwise."""
    if len(data) > MAX_BYTES:
        raise InvalidAvatar(f"图片不能超过 {MAX_BYTES // (1024 * 1024)} MiB。")
    if data[:6] in (b"GIF87a", b"GIF89a"):
        data = _gif_first_frame(data)
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except UNREADABLE:
        raise InvalidAvatar("无法识别的图片，只接受 PNG、JPEG、GIF 或 WebP。") from None
    with image:
        # Image.open has read only the header: nothing is decoded yet.
        _check_header(image, data)
        orientation = _orientation(image)
        icc_profile = image.info.get("icc_profile")
        # Orientations 5 to 8 turn the image by 90°: it is fitted as stored, then turned.
        fit = box[::-1] if orientation >= 5 else box
        try:
            small = _decode_small(image, data, fit)
        except UNREADABLE:
            raise InvalidAvatar("图片文件已损坏或不完整。") from None
    # Closing the file has freed its decoded frame: from here on only the small image is held.
    try:
        if small.mode not in RESAMPLED_MODES:
            small = small.convert("RGBA" if _has_alpha(small) else "RGB")
        small.thumbnail(fit, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
        if orientation in ORIENTATION_TRANSPOSE:
            small = small.transpose(ORIENTATION_TRANSPOSE[orientation])
        pixels = _to_srgb(small, icc_profile)
    except UNREADABLE:
        raise InvalidAvatar("图片文件已损坏或不完整。") from None
    # A fresh image holds the pixels and nothing else: no EXIF, GPS, XMP, ICC or comments.
    clean = Image.new(pixels.mode, pixels.size)
    clean.paste(pixels)
    buffer = io.BytesIO()
    clean.save(buffer, format="WEBP", quality=OUTPUT_QUALITY, method=4)
    return ContentFile(buffer.getvalue(), name=f"{secrets.token_hex(16)}.{OUTPUT_EXTENSION}")


def _check_header(image, data):
    width, height = image.size  # an animation's first frame
    if width * height > MAX_PIXELS:
        raise InvalidAvatar(f"图片不能超过 {MAX_PIXELS // 1_000_000} 百万像素。")
    if image.format == "JPEG" and _jpeg_scans(data) > MAX_JPEG_SCANS:
        raise InvalidAvatar(f"渐进式 JPEG 的扫描不能超过 {MAX_JPEG_SCANS} 次。")


def _jpeg_scans(data):
    """The number of scans (SOS segments) in a JPEG, counted up to MAX_JPEG_SCANS + 1. Segments
    are skipped by their length (their payload may hold any bytes); the compressed data after an
    SOS header, by searching for the next marker."""
    scans = 0
    position = 2  # after SOI
    while scans <= MAX_JPEG_SCANS:
        marker = JPEG_MARKER.search(data, position)
        if marker is None or data[marker.start() + 1] == JPEG_EOI:
            break
        kind = data[marker.start() + 1]
        if kind == JPEG_TEM:
            position = marker.end()
            continue
        scans += kind == JPEG_SOS
        length = int.from_bytes(data[marker.end() : marker.end() + 2], "big")
        position = marker.end() + max(length, 2)
    return scans


def _gif_first_frame(data):
    """The GIF with its first frame only, and that frame's disposal method cleared: the disposal
    says what becomes of the frame once the next one is shown, and for it Pillow would allocate a
    second full frame while reading the header. A GIF that cannot be walked is returned as it
    is, for Pillow to refuse."""
    try:
        flags = data[10]
        position = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
        kept = bytearray(data[:position])
        while data[position] == GIF_EXTENSION:
            end = _gif_sub_blocks_end(data, position + 2)
            block = bytearray(data[position:end])
            if block[1] == GIF_GRAPHIC_CONTROL and block[2] >= 4:
                block[3] &= ~GIF_DISPOSAL_BITS
            kept += block
            position = end
        if data[position] != GIF_IMAGE:
            return data
        descriptor_flags = data[position + 9]
        image_data = (
            position + 10 + (3 << ((descriptor_flags & 7) + 1) if descriptor_flags & 0x80 else 0)
        )
        end = _gif_sub_blocks_end(data, image_data + 1)  # after the LZW minimum code size
    except IndexError:
        return data
    return bytes(kept + data[position:end] + GIF_TRAILER)


def _gif_sub_blocks_end(data, position):
    """The position after the sub-blocks (a length byte, then that many bytes) starting at
    `position`, and the empty one that ends them."""
    while data[position]:
        position += data[position] + 1
    return position + 1


def _orientation(image):
    """The EXIF orientation (1 to 8) read with the header. Never `image.getexif()`: for a PNG
    without an eXIf chunk before its pixels, that decodes the whole image looking for one after
    them. A broken EXIF block counts as no orientation."""
    raw = image.info.get("exif")
    if not raw:
        return 1
    exif = Image.Exif()
    try:
        exif.load(raw)
        orientation = int(exif.get(ORIENTATION, 1))
    except UNREADABLE:
        return 1
    return orientation if 1 <= orientation <= 8 else 1


def _reduce_factor(size, fit, gap=REDUCING_GAP):
    """The integer factor that keeps an image of `size` at least `gap` times the size it will
    have once fitted within `fit`, or, where that leaves more than MAX_REDUCED_PIXELS, the
    smallest that leaves no more, as long as the image stays at least its fitted size."""
    scale = max(size[0] / fit[0], size[1] / fit[1])
    factor = max(1, int(scale / gap))
    while (size[0] // factor) * (size[1] // factor) > MAX_REDUCED_PIXELS and factor + 1 <= scale:
        factor += 1
    return factor


def _decode_small(image, data, fit):
    """The first frame, decoded and already reduced (not yet to its final size), as an image of
    its own: closing `image` then frees the decoded frame."""
    if image.format in ("PNG", "WEBP"):
        return _decode_with_vips(image, data, _reduce_factor(image.size, fit))
    if image.format == "GIF":
        image.load()
        # Decimated, not averaged: palette indices cannot be averaged, and converting all of
        # the frame to RGB first would cost more than decoding it. Straight to about the final
        # size, for the same reason.
        factor = _reduce_factor(image.size, fit, gap=1)
        size = (max(1, image.width // factor), max(1, image.height // factor))
        return image.resize(size, Image.Resampling.NEAREST)
    # JPEG: thumbnail() decodes at the smallest DCT scale (1/2, 1/4 or 1/8) that still covers
    # `fit`, a downscale as good as a box filter's (and the full scale would cost more in Lanczos
    # than in decoding), then resamples.
    image.thumbnail(fit, Image.Resampling.LANCZOS, reducing_gap=1.0)
    return image.copy()


def _decode_with_vips(image, data, factor):
    """A PNG or WebP first frame, 1/factor of its size, in 8-bit L, LA, RGB or RGBA."""
    if image.format == "WEBP" and getattr(image, "is_animated", False):
        return _first_webp_frame(image, data, factor)
    if image.format == "WEBP":
        # libwebp decodes straight to the reduced size, alpha premultiplied while rescaling.
        pixels = pyvips.Image.webpload_buffer(data, scale=1 / factor, fail_on="error")
    else:
        pixels = pyvips.Image.pngload_buffer(data, access="sequential", fail_on="error")
        if factor > 1:
            sample_format = pixels.format
            if pixels.hasalpha():
                # Averaged premultiplied, so that fully transparent pixels lend no colour.
                pixels = pixels.premultiply().shrink(factor, factor).unpremultiply()
                pixels = pixels.cast(sample_format)
            else:
                pixels = pixels.shrink(factor, factor)
    return _from_vips(pixels)


def _from_vips(pixels):
    """A libvips image (evaluated now) as an 8-bit Pillow one."""
    if pixels.format != "uchar":
        pixels = pixels.cast("uchar", shift=True)  # 16-bit samples: the high byte
    size = (pixels.width, pixels.height)
    return Image.frombytes(MODE_OF_BANDS[pixels.bands], size, pixels.write_to_memory())


def _first_webp_frame(image, data, factor):
    """An animated WebP's first frame on its (reduced) canvas. libvips would decode the frame
    at full size and walk all the frames: the frame is taken out as a still WebP of its own
    instead, decoded reduced, and put in its place on a transparent canvas (the first frame
    blends with nothing)."""
    position = 12  # after RIFF, the size and WEBP
    while position + 8 <= len(data):
        kind = data[position : position + 4]
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        if kind == b"ANMF":
            break
        position += 8 + size + size % 2
    else:
        raise ValueError("an animated WebP without frames")
    # ANMF: x/2, y/2, width-1, height-1 (3 bytes each), duration (3), flags (1), then the
    # frame's chunks (ALPH and VP8, or VP8L), which an extended WebP file holds as they are.
    header = data[position + 8 : position + 24]
    x, y = (int.from_bytes(header[start : start + 3], "little") * 2 for start in (0, 3))
    frame = data[position + 24 : position + 8 + size]
    body = b"WEBP" + b"VP8X" + (10).to_bytes(4, "little") + b"\x10\0\0\0" + header[6:12] + frame
    still = b"RIFF" + len(body).to_bytes(4, "little") + body
    frame_image = _from_vips(pyvips.Image.webpload_buffer(still, scale=1 / factor, fail_on="error"))
    canvas = Image.new("RGBA", (image.width // factor or 1, image.height // factor or 1))
    canvas.paste(frame_image.convert("RGBA"), (x // factor, y // factor))
    return canvas


def _has_alpha(image):
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _to_srgb(image, icc_profile):
    """RGB or RGBA pixels in sRGB: the embedded colour profile is applied (a CMYK profile to the
    CMYK pixels, a grey one to grey pixels), then dropped."""
    mode = "RGBA" if _has_alpha(image) else "RGB"
    if icc_profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
            return ImageCms.profileToProfile(image, source, SRGB, outputMode=mode)
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a broken profile, or one for other pixels: keep them as they are
    return image.convert(mode)


def from_base64(text, *, box=AVATAR_BOX):
    """The base64 `img` of the API, checked and re-encoded (see `normalize`)."""
    return normalize(decode_base64(text), box=box)


def from_upload(upload, *, box=AVATAR_BOX):
    """An uploaded file (the admin), checked and re-encoded (see `normalize`)."""
    if upload.size is not None and upload.size > MAX_BYTES:
        raise InvalidAvatar(f"图片不能超过 {MAX_BYTES // (1024 * 1024)} MiB。")
    upload.seek(0)
    return normalize(upload.read(MAX_BYTES + 1), box=box)


def delete_on_commit(field_file_or_name, storage):
    """Delete a replaced avatar file (or any file whose row goes) once the transaction that
    replaced it has committed (never before: a rollback keeps pointing at it). A failed delete is
    logged, not raised."""
    name = getattr(field_file_or_name, "name", field_file_or_name)
    if name:
        transaction.on_commit(lambda: storage.delete(name), robust=True)


def delete_avatar_of_deleted_user(sender, instance, **kwargs):
    """post_delete of User: the avatar file goes with the account."""
    delete_on_commit(instance.avatar, instance.avatar.storage)
