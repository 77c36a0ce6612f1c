"""Real images made with Pillow for the image tests (avatars, post images), a PNG decompression
bomb, the worst inputs at the pipeline's limits, and the measure of the pipeline's cost."""

import base64
import functools
import io
import itertools
import json
import re
import struct
import subprocess
import sys
import zlib

from django.conf import settings
from PIL import Image, ImageChops, ImageCms

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


# The worst inputs at the limits of the pipeline (tests/test_avatars.py, TestCost): each is a
# few KB to 2 MB on the wire and 16 megapixels once decoded.

LIMIT_SIZE = (4000, 4000)  # 16,000,000 pixels: exactly MAX_PIXELS


def exif_with_orientation(orientation):
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    return exif


def srgb_profile():
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _s15_fixed16(*values):
    return b"".join(struct.pack(">i", round(value * 65536)) for value in values)


def cmyk_profile():
    """A CMYK printer profile (ICC v2, CMYK → Lab through a 2-point lut16 A2B0 table): ink
    darkens the colour roughly as on paper, full cyan to (0, 206, 242) in sRGB (where a plain
    conversion gives (0, 255, 255))."""
    clut = b""
    for cyan, magenta, yellow, black in itertools.product((0, 1), repeat=4):
        red, green, blue = ((1 - ink) * (1 - black) for ink in (cyan, magenta, yellow))
        light, a, b = (
            100 * (0.3 * red + 0.59 * green + 0.11 * blue),
            80 * (red - green),
            80 * ((red + green) / 2 - blue),
        )
        encoded = (light / 100 * 0xFF00, (a + 128) * 256, (b + 128) * 256)
        clut += struct.pack(">3H", *(round(value) for value in encoded))
    identity = (0, 0xFFFF)
    a2b0 = (
        b"mft2\0\0\0\0"
        + bytes([4, 3, 2, 0])
        + _s15_fixed16(1, 0, 0, 0, 1, 0, 0, 0, 1)
        + struct.pack(">HH", 2, 2)
        + struct.pack(">8H", *identity * 4)
        + clut
        + struct.pack(">6H", *identity * 3)
    )
    description = b"test CMYK\0"
    tags = [
        (
            b"desc",
            b"desc\0\0\0\0"
            + struct.pack(">I", len(description))
            + description
            + b"\0" * 4
            + b"\0" * 4
            + b"\0" * 3
            + b"\0" * 67,
        ),
        (b"wtpt", b"XYZ \0\0\0\0" + _s15_fixed16(0.9642, 1.0, 0.8249)),
        (b"cprt", b"text\0\0\0\0PD\0"),
        (b"A2B0", a2b0),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"\0\0\0\0"
        + struct.pack(">I", 0x02100000)
        + b"prtrCMYKLab "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\0" * 24
        + struct.pack(">I", 0)
        + _s15_fixed16(0.9642, 1.0, 0.8249)
        + b"\0" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def gradient(mode, size=LIMIT_SIZE):
    """Smooth ramps in every band: millions of colours (no palette can hold them), yet small
    once compressed."""
    across = Image.linear_gradient("L").rotate(90).resize(size)
    down = Image.linear_gradient("L").resize(size)
    bands = [across, down, ImageChops.add_modulo(across, down), ImageChops.multiply(across, down)]
    return Image.merge(mode, bands[: len(mode)])


def paeth_png(size=LIMIT_SIZE, *, bit_depth=8, colour_type=6, chunks=b""):
    """A PNG whose every row uses the Paeth filter, the dearest to undo, over zero residuals: a
    few tens of KB for 16 MP. `chunks` go before the pixels."""
    width, height = size
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    row = b"\x04" + b"\x00" * (width * channels * bit_depth // 8)
    compressor = zlib.compressobj(9)
    compressed = [
        compressor.compress(row * min(256, height - top)) for top in range(0, height, 256)
    ]
    compressed.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + chunks
        + _chunk(b"IDAT", b"".join(compressed))
        + _chunk(b"IEND", b"")
    )


def png_metadata_chunks(orientation=6):
    """An sRGB profile (iCCP) and an EXIF orientation (eXIf), as a camera app would write them."""
    exif = exif_with_orientation(orientation).tobytes().removeprefix(b"Exif\x00\x00")
    return _chunk(b"iCCP", b"sRGB\x00\x00" + zlib.compress(srgb_profile())) + _chunk(b"eXIf", exif)


def lossless_webp(size=LIMIT_SIZE, **options):
    return encode(gradient("RGBA", size), "WEBP", lossless=True, quality=0, method=0, **options)


def _riff_chunk(kind, data):
    return kind + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2)


def _webp_bitstream(data):
    """The VP8/VP8L chunk of a simple (not extended) WebP file."""
    assert data[12:15] == b"VP8"
    return data[12:]


def animated_webp(first_frame, frames):
    """An animated WebP: `first_frame` (a simple WebP file) on a canvas of its size, then
    `frames` - 1 frames of one lossless pixel each."""
    width, height = Image.open(io.BytesIO(first_frame)).size
    pixel = _webp_bitstream(
        encode(Image.new("RGBA", (1, 1), (255, 0, 0, 255)), "WEBP", lossless=True)
    )

    def frame(bitstream, size, duration=10):
        header = (
            b"\0" * 6 + (size[0] - 1).to_bytes(3, "little") + (size[1] - 1).to_bytes(3, "little")
        )
        return _riff_chunk(b"ANMF", header + duration.to_bytes(3, "little") + b"\x00" + bitstream)

    canvas = b"\x12\0\0\0" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = (
        b"WEBP"
        + _riff_chunk(b"VP8X", canvas)  # animation and alpha flags
        + _riff_chunk(b"ANIM", b"\0\0\0\0\0\0")
        + frame(_webp_bitstream(first_frame), (width, height))
        + frame(pixel, (1, 1)) * (frames - 1)
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def animated_gif_of(first_frame, frames, *, disposal=2):
    """An animated GIF: `first_frame` (a single-frame GIF, any size) with `disposal` (2: clear
    to the background, which makes Pillow allocate a second frame), then `frames` - 1 frames of
    one pixel each."""
    data = encode(first_frame, "GIF", disposal=disposal, transparency=0)
    assert data.endswith(b";")
    one_pixel = (
        b"\x21\xf9\x04"
        + bytes([disposal << 2 | 1])
        + b"\x0a\x00\x00\x00"  # control, 0.1 s
        + b"\x2c\0\0\0\0\x01\0\x01\0\x00"  # at (0, 0), 1×1, no local palette
        + b"\x02\x02\x44\x01\x00"  # LZW: clear, index 0, end
    )
    return data[:-1] + one_pixel * (frames - 1) + b";"


def progressive_jpeg_with_scans(image, scans):
    """`image` as a progressive JPEG (4:2:0) whose smallest scan is repeated until it has `scans`
    scans: libjpeg decodes every one of them over the whole image."""
    data = encode(image, "JPEG", progressive=True, quality=90)
    starts = [match.start() for match in re.finditer(rb"\xff\xda", data)]
    ends = [*starts[1:], data.rindex(b"\xff\xd9")]
    start, end = min(zip(starts, ends, strict=True), key=lambda scan: scan[1] - scan[0])
    return data[:end] + data[start:end] * (scans - len(starts)) + data[end:]


# Run in a fresh interpreter, so that the peak resident memory (VmHWM) is this case's alone. The
# pipeline and Pillow first see a tiny image of every format: what they set up once per process
# is no cost of this input. CPU times are the best of nine rounds, the memory that of the first.
MEASURE = """
import base64, io, json, sys, time
from PIL import Image
from accounts import avatars

def peak():
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024

# The best CPU time of each function over `runs` rounds, run in turns, so that a moment of
# noise on the machine weighs on both sides of the comparison alike.
def best(*functions, runs=9):
    times = [[] for _ in functions]
    for _ in range(runs):
        for function, taken in zip(functions, times):
            started = time.process_time()
            function()
            taken.append(time.process_time() - started)
    return [min(taken) for taken in times]

def decode():
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.size, image.mode, len(image.getbands())

for fmt in ("PNG", "JPEG", "GIF", "WEBP"):
    tiny = io.BytesIO()
    Image.new("RGB" if fmt == "JPEG" else "RGBA", (8, 8)).save(tiny, fmt)
    avatars.normalize(tiny.getvalue())
with open(sys.argv[1], "rb") as file:
    data = file.read()
box = tuple(json.loads(sys.argv[2]))
text = base64.b64encode(data).decode("ascii")
before = peak()
avatars.from_base64(text, box=box)
growth = peak() - before
(width, height), mode, bands = decode()
sample_bytes = 2 if mode.startswith("I;16") else 4 if mode in ("I", "F") else 1
result = Image.open(avatars.from_base64(text, box=box))
result.load()

def encode():
    result.save(io.BytesIO(), format="WEBP", quality=avatars.OUTPUT_QUALITY, method=4)

decode_cpu, pipeline_cpu, encode_cpu = best(
    decode, lambda: avatars.from_base64(text, box=box), encode
)
print(json.dumps({
    "decoded_bytes": width * height * bands * sample_bytes,
    "rss_growth": growth,
    "decode_cpu": decode_cpu,
    "pipeline_cpu": pipeline_cpu,
    "encode_cpu": encode_cpu,
}))
"""


def measure(tmp_path, data, box=(512, 512)):
    """The pipeline's cost for `data` fitted within `box` (from the base64 text, as /reset and
    /putPost receive it, to the re-encoded file), against Pillow's for decoding it and nothing
    more."""
    path = tmp_path / "input"
    path.write_bytes(data)
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), json.dumps(box)],
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
    )
    return json.loads(done.stdout)


@functools.cache
def worst_input(name):
    """The worst inputs we could make at the limits: 16 MP, a few KB to 2.8 MB. Each is cheap to
    decode for its size, so that the rest of the pipeline weighs the most against decoding, or
    makes a decoder hold more than the image."""
    exif = exif_with_orientation(6)
    png_metadata = png_metadata_chunks(orientation=6)
    if name == "lossless WebP, RGBA, EXIF 6, ICC":
        return lossless_webp(exif=exif, icc_profile=srgb_profile())
    if name == "animated WebP, 20,000 frames":
        return animated_webp(lossless_webp(), 20_000)
    if name == "RGBA PNG, EXIF 6, ICC":
        return paeth_png(colour_type=6, chunks=png_metadata)
    if name == "RGB PNG, EXIF 6, ICC":
        return paeth_png(colour_type=2, chunks=png_metadata)
    if name == "grey and alpha PNG":
        return paeth_png(colour_type=4)
    if name == "16-bit RGBA PNG, EXIF 6, ICC":
        return paeth_png(bit_depth=16, colour_type=6, chunks=png_metadata)
    if name == "16-bit grey PNG":
        return paeth_png(bit_depth=16, colour_type=0)
    if name == "CMYK JPEG, CMYK profile, EXIF 6":
        cmyk = gradient("CMYK")
        return encode(cmyk, "JPEG", quality=95, icc_profile=cmyk_profile(), exif=exif)
    if name == "progressive JPEG, 100 scans, EXIF 6":
        return progressive_jpeg_with_scans(gradient("RGB"), 100)
    if name == "animated GIF, 20,000 frames, the first clearing itself":
        return animated_gif_of(Image.new("P", LIMIT_SIZE, 1), 20_000)
    raise ValueError(name)


WORST_INPUTS = [
    "lossless WebP, RGBA, EXIF 6, ICC",
    "animated WebP, 20,000 frames",
    "RGBA PNG, EXIF 6, ICC",
    "RGB PNG, EXIF 6, ICC",
    "grey and alpha PNG",
    "16-bit RGBA PNG, EXIF 6, ICC",
    "16-bit grey PNG",
    "CMYK JPEG, CMYK profile, EXIF 6",
    "progressive JPEG, 100 scans, EXIF 6",
    "animated GIF, 20,000 frames, the first clearing itself",
]
