"""Uploads fuzzed with hypothesis: whatever the bytes, a file is either stored as a clean image or
rejected with a reason, and never takes a good file in the same upload down with it."""

import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from projects.images import RejectedImage, normalise_reference_image
from projects.models import ReferenceImage, ReferenceSet


def _encode(fmt: str, size=(64, 48), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (120, 30, 200)).save(buffer, fmt)
    return buffer.getvalue()


JPEG, PNG, WEBP = _encode("JPEG"), _encode("PNG"), _encode("WEBP")
OTHER_TYPES = [
    _encode("GIF", mode="P"),
    _encode("BMP"),
    _encode("TIFF"),
    b'<svg xmlns="http://www.w3.org/2000/svg"/>',
]


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims any size (a decompression bomb when large)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


payloads = st.one_of(
    st.binary(max_size=4096),
    st.sampled_from([JPEG, PNG, WEBP]).flatmap(lambda d: st.integers(0, len(d)).map(lambda n: d[:n])),
    st.sampled_from([JPEG, PNG, WEBP]).flatmap(lambda d: st.binary(max_size=512).map(lambda junk: d + junk)),
    st.sampled_from(OTHER_TYPES),
    st.tuples(st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1)).map(lambda wh: _png_claiming(*wh)),
    st.binary(max_size=256).map(lambda b: b"<html><script>alert(1)</script>" + b + PNG),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=payloads, name=st.sampled_from(["photo.jpg", "image.png", "x.webp", "evil.svg", "noext"]))
def test_any_bytes_are_stored_cleanly_or_rejected_with_a_reason(data, name):
    upload = SimpleUploadedFile(name, data)
    result, reason = None, ""
    try:
        result = normalise_reference_image(upload)
    except RejectedImage as rejection:
        reason = str(rejection)
    if result is None:
        assert reason.strip(), "a rejection must say why"
        return
    stored = Image.open(io.BytesIO(result.image.read()))
    stored.load()
    assert stored.format in ("JPEG", "PNG")
    assert (stored.width, stored.height) == (result.width, result.height)
    assert result.width * result.height <= 40_000_000


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=payloads)
def test_a_fuzzed_file_never_loses_the_good_file_beside_it(client, project, alice, data):
    client.force_login(alice)
    reference_set = ReferenceSet.objects.create(project=project, name="Fuzz")
    good = SimpleUploadedFile("good.jpg", JPEG)
    fuzzed = SimpleUploadedFile("fuzzed.jpg", data)

    response = client.post(
        reverse("upload_reference_images", args=[reference_set.pk]), {"images": [fuzzed, good]}
    )

    assert response.status_code == 302
    names = list(
        ReferenceImage.objects.filter(reference_set=reference_set).values_list("original_name", flat=True)
    )
    assert "good.jpg" in names
    reference_set.delete()
