"""Real images made with Pillow for the avatar tests, and a PNG decompression bomb."""

import base64
import io
import struct
import zlib

from PIL import Image, ImageCms

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def encode(image, fmt, **options):
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def b64(data):
    return base64.b64encode(data).decode("ascii")


def jpeg(size=(64, 48), colour=(200, 40, 40)):
    return encode(Image.new("RGB", size, colour), "JPEG")


def png(size=(64, 48), colour=(40, 40, 200)):
    return encode(Image.new("RGB", size, colour), "PNG")


def jpeg_with_metadata():
    """60×40 with EXIF GPS tags, orientation 6 (shown rotated: 40×60), an ICC profile and a
    comment."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.0, 30.0, 0.0), 3: "E", 4: (13.0, 24.0, 0.0)})
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image = Image.new("RGB", (60, 40), (30, 160, 30))
    return encode(image, "JPEG", exif=exif, icc_profile=icc, comment=b"home address")


def noise(size=(200, 200)):
    """Random-looking pixels, which no encoder can shrink to a few bytes."""
    return Image.merge("RGB", [Image.effect_noise(size, 64 + 20 * band) for band in range(3)])


def transparent_png():
    """64×64 RGBA: the left half opaque red, the right half fully transparent."""
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 32, 64))
    return encode(image, "PNG")


def animated_gif():
    """Three frames: red, green, blue."""
    frames = [Image.new("RGB", (32, 32), colour) for colour in ("red", "lime", "blue")]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _chunk(kind, data):
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_bomb(width, height):
    """A valid 1-bit greyscale PNG of width×height black pixels: a few tens of KB on disk,
    width×height bytes once Pillow decodes it."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter type 0, then the packed pixels
    compressor = zlib.compressobj(9)
    rows_per_chunk = 256
    compressed = []
    for start in range(0, height, rows_per_chunk):
        compressed.append(compressor.compress(row * min(rows_per_chunk, height - start)))
    compressed.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", b"".join(compressed))
        + _chunk(b"IEND", b"")
    )
