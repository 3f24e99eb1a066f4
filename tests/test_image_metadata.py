"""Stored images keep only their pixels: a JPEG comment, EXIF (after its orientation is applied), XMP,
an ICC profile or PNG text chunks in an upload reach no stored file, neither the reference image, nor
its thumbnail, nor a project's logo."""

import io
import struct

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image, ImageCms, PngImagePlugin

from projects.models import ReferenceImage, ReferenceSet

pytestmark = pytest.mark.django_db

SECRET = "SECRET-4711 Jane Doe, 51.5 N 0.1 W"
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
XMP = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description>{SECRET}</rdf:Description></x:xmpmeta>'.encode()


def exif(*, orientation: int = 1) -> Image.Exif:
    data = Image.Exif()
    data[0x0112] = orientation
    data[0x013B] = SECRET  # Artist
    data[0x010E] = SECRET  # ImageDescription
    return data


def sideways() -> Image.Image:
    """60x40, red on the left, blue on the right: tagged "rotate 90° clockwise", it stands 40x60."""
    image = Image.new("RGB", (60, 40), (255, 0, 0))
    image.paste((0, 0, 255), (30, 0, 60, 40))
    return image


def jpeg_with_everything() -> bytes:
    buffer = io.BytesIO()
    sideways().save(
        buffer, "JPEG", quality=95, exif=exif(orientation=6), comment=SECRET, xmp=XMP, icc_profile=SRGB
    )
    return buffer.getvalue()


def png_with_everything() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", SECRET)
    info.add_text("Author", SECRET, zip=True)
    info.add_itxt("Description", SECRET, lang="en", tkey="Description")
    info.add_text("XML:com.adobe.xmp", XMP.decode())
    buffer = io.BytesIO()
    Image.new("RGBA", (60, 40), (10, 120, 200, 128)).save(
        buffer, "PNG", pnginfo=info, exif=exif(), icc_profile=SRGB
    )
    return buffer.getvalue()


def webp_with_everything() -> bytes:
    buffer = io.BytesIO()
    sideways().save(buffer, "WEBP", exif=exif(orientation=6), xmp=XMP, icc_profile=SRGB)
    return buffer.getvalue()


def jpeg_segments(data: bytes) -> list[int]:
    """The markers of a JPEG's header segments, up to the start of the scan."""
    assert data[:2] == b"\xff\xd8"
    markers, pos = [], 2
    while pos < len(data):
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return markers
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
    return markers


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    kinds, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kinds.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return kinds


def assert_only_pixels(data: bytes) -> None:
    assert SECRET.encode() not in data
    assert b"Exif" not in data
    assert b"acsp" not in data  # every ICC profile carries this signature
    assert b"xmpmeta" not in data
    if data[:2] == b"\xff\xd8":
        markers = jpeg_segments(data)
        # APP0 (JFIF) is allowed; APP1-APP15 (EXIF, XMP, ICC, Photoshop) and COM (0xFE) are not.
        assert [m for m in markers if 0xE1 <= m <= 0xEF or m == 0xFE] == []
    else:
        assert set(png_chunks(data)) <= {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert not {"exif", "icc_profile", "xmp", "comment", "XML:com.adobe.xmp"} & set(image.info)
        assert not getattr(image, "text", {})
        assert dict(image.getexif()) == {}


@pytest.fixture
def reference_set(project):
    return ReferenceSet.objects.create(project=project, name="Rooms")


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("phone.jpg", jpeg_with_everything),
        ("plan.png", png_with_everything),
        ("web.webp", webp_with_everything),
    ],
)
def test_a_reference_image_and_its_thumbnail_keep_no_metadata(client, alice, reference_set, name, make):
    client.force_login(alice)
    client.post(
        reverse("upload_reference_images", args=[reference_set.pk]),
        {"images": [SimpleUploadedFile(name, make())]},
    )

    stored = ReferenceImage.objects.get(reference_set=reference_set)
    for file in (stored.image, stored.thumbnail):
        with file.open("rb") as fh:
            assert_only_pixels(fh.read())


def test_the_orientation_is_applied_before_the_exif_is_dropped(client, alice, reference_set):
    client.force_login(alice)
    client.post(
        reverse("upload_reference_images", args=[reference_set.pk]),
        {"images": [SimpleUploadedFile("phone.jpg", jpeg_with_everything())]},
    )

    stored = ReferenceImage.objects.get(reference_set=reference_set)
    assert (stored.width, stored.height) == (40, 60)
    with stored.image.open("rb") as fh, Image.open(fh) as image:
        assert image.size == (40, 60)
        top, bottom = image.convert("RGB").getpixel((20, 5)), image.convert("RGB").getpixel((20, 55))
    assert top[0] > 200 > top[2]
    assert bottom[2] > 200 > bottom[0]


@pytest.mark.parametrize(
    ("name", "make"), [("logo.jpg", jpeg_with_everything), ("logo.png", png_with_everything)]
)
def test_a_logo_keeps_no_metadata(client, alice, project, name, make):
    client.force_login(alice)
    response = client.post(
        reverse("set_project_branding", args=[project.pk]),
        {"client_name": "Northwind", "accent_color": "", "logo": SimpleUploadedFile(name, make())},
    )
    assert response.status_code == 302
    project.refresh_from_db()
    with project.logo.open("rb") as fh:
        assert_only_pixels(fh.read())
