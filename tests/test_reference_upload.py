"""Reference image intake (projects/images.py) through the upload page: bad files are refused one by
one with their reason, good ones in the same upload are kept, and every stored image is upright."""

import io
import struct
import zlib

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from projects.images import RejectedImage, add_reference_images, normalise_reference_image
from projects.models import ReferenceImage, ReferenceSet
from tests.helpers import jpeg, png

pytestmark = pytest.mark.django_db


TRANSLUCENT = (10, 120, 200, 128)


def webp(size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (20, 200, 20)).save(buffer, "WEBP")
    return buffer.getvalue()


def png_bomb(width=100_000, height=100_000) -> bytes:
    """A few hundred bytes of PNG whose header declares a 10-gigapixel image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


def upload(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def reference_set(project):
    return ReferenceSet.objects.create(project=project, name="Rooms")


def post_files(client, reference_set, files):
    url = reverse("upload_reference_images", args=[reference_set.pk])
    response = client.post(url, {"images": files})
    return response, [str(m) for m in get_messages(response.wsgi_request)]


def test_bad_files_are_each_rejected_with_a_reason_and_good_ones_kept(client, alice, reference_set):
    fifty_megapixels = io.BytesIO()
    Image.new("L", (10_000, 5_000)).save(fifty_megapixels, "PNG")
    full = jpeg((400, 300))
    files = [
        upload("good-1.jpg", jpeg()),
        upload("notes.jpg", b"These are my meeting notes, not a photo.\n" * 20),
        upload("cut.jpg", full[: len(full) // 2]),
        upload("bomb.png", png_bomb(), "image/png"),
        upload("huge.png", fifty_megapixels.getvalue(), "image/png"),
        upload(
            "plan.svg", b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "image/svg+xml"
        ),
        upload("good-2.png", png((64, 48), TRANSLUCENT, mode="RGBA"), "image/png"),
        upload("good-3.webp", webp(), "image/webp"),
    ]
    client.force_login(alice)
    response, messages = post_files(client, reference_set, files)

    assert response.status_code == 302
    kept = list(reference_set.images.values_list("original_name", flat=True))
    assert kept == ["good-1.jpg", "huge.png", "good-2.png", "good-3.webp"]
    assert "Added 4 of 8 images." in messages
    rejected = {m.split("”")[0].lstrip("“"): m for m in messages if "was not added" in m}
    assert set(rejected) == {"notes.jpg", "cut.jpg", "bomb.png", "plan.svg"}
    assert "is not a JPEG, PNG, WebP or HEIC image" in rejected["notes.jpg"]
    assert "damaged or incomplete" in rejected["cut.jpg"]
    assert "more pixels than can be opened safely (at most 80.0 megapixels" in rejected["bomb.png"]
    # Too big to keep is not too big to take: it is scaled down to the limit, and the upload says so.
    assert "“huge.png” was 50.0 megapixels; it is kept at 8944×4472 (40.0 megapixels)" in " ".join(messages)
    assert "is not a JPEG, PNG, WebP or HEIC image" in rejected["plan.svg"]


def test_the_rejections_are_shown_on_the_page(client, alice, reference_set):
    client.force_login(alice)
    url = reverse("upload_reference_images", args=[reference_set.pk])
    response = client.post(url, {"images": [upload("notes.jpg", b"text")]}, follow=True)
    assert "“notes.jpg” was not added: it is not a JPEG, PNG, WebP or HEIC image." in response.text


def test_an_exif_rotated_jpeg_is_stored_upright(client, alice, reference_set):
    # A landscape sensor image, red on the left and blue on the right, tagged "rotate 90° clockwise".
    sideways = Image.new("RGB", (60, 40), (255, 0, 0))
    sideways.paste((0, 0, 255), (30, 0, 60, 40))
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    sideways.save(buffer, "JPEG", quality=95, exif=exif)
    client.force_login(alice)
    post_files(client, reference_set, [upload("phone.jpg", buffer.getvalue())])

    stored = ReferenceImage.objects.get(reference_set=reference_set)
    assert (stored.width, stored.height) == (40, 60)
    with stored.image.open("rb") as fh, Image.open(fh) as img:
        assert img.format == "JPEG"
        assert img.size == (40, 60)
        assert img.getexif().get(0x0112) in (None, 1)
        top, bottom = img.convert("RGB").getpixel((20, 5)), img.convert("RGB").getpixel((20, 55))
    assert top[0] > 200
    assert top[2] < 60
    assert bottom[2] > 200
    assert bottom[0] < 60


def test_png_stays_png_and_webp_becomes_jpeg_with_thumbnails(client, alice, reference_set):
    client.force_login(alice)
    post_files(
        client,
        reference_set,
        [
            upload("a.png", png((800, 400), TRANSLUCENT, mode="RGBA"), "image/png"),
            upload("b.webp", webp((1000, 500))),
        ],
    )
    first, second = reference_set.images.all()
    assert first.image.name.endswith(".png")
    assert second.image.name.endswith(".jpg")
    for image in (first, second):
        with image.thumbnail.open("rb") as fh, Image.open(fh) as thumb:
            assert thumb.format == "JPEG"
            assert max(thumb.size) == 320


def test_a_file_over_the_byte_limit_is_rejected_before_decoding(settings):
    settings.REFERENCE_IMAGE_MAX_BYTES = 1000
    with pytest.raises(RejectedImage, match="the limit is 1 KB"):
        normalise_reference_image(upload("big.jpg", jpeg((300, 300), quality=100)))


def test_a_gif_is_refused_whatever_its_name(settings):
    buffer = io.BytesIO()
    Image.new("P", (10, 10)).save(buffer, "GIF")
    with pytest.raises(RejectedImage, match="not a JPEG, PNG, WebP or HEIC"):
        normalise_reference_image(upload("photo.jpg", buffer.getvalue()))


def test_new_images_go_to_the_end_in_upload_order(client, alice, reference_set):
    client.force_login(alice)
    post_files(client, reference_set, [upload("1.jpg", jpeg()), upload("2.jpg", jpeg())])
    post_files(client, reference_set, [upload("3.jpg", jpeg())])
    names = list(reference_set.images.order_by("position").values_list("original_name", flat=True))
    assert names == ["1.jpg", "2.jpg", "3.jpg"]


def test_a_phone_jpeg_with_several_pictures_is_stored_as_its_first_picture(client, alice, reference_set):
    # Phones write MPO: a JPEG whose first picture is the photo, followed by depth maps or previews.
    photo = Image.new("RGB", (60, 40), (255, 0, 0))
    extra = Image.new("RGB", (30, 20), (0, 0, 255))
    buffer = io.BytesIO()
    photo.save(buffer, "MPO", save_all=True, append_images=[extra])
    client.force_login(alice)
    _, messages = post_files(client, reference_set, [upload("phone.jpg", buffer.getvalue())])

    assert messages == ["Added 1 image."]
    stored = ReferenceImage.objects.get(reference_set=reference_set)
    assert (stored.width, stored.height) == (60, 40)
    with stored.image.open("rb") as fh, Image.open(fh) as img:
        assert img.format == "JPEG"
        assert getattr(img, "n_frames", 1) == 1
        red, green, blue = img.convert("RGB").getpixel((30, 20))
    assert red > 200
    assert blue < 60


# --- how much one upload may decode ----------------------------------------------------------------

TOO_MUCH = "would make too much in one upload"


def test_files_past_the_pixels_one_upload_may_decode_are_refused_by_name(
    client, alice, reference_set, settings
):
    settings.REFERENCE_UPLOAD_MAX_PIXELS_PER_REQUEST = 3 * 64 * 48
    files = [
        upload("1.jpg", jpeg()),
        upload("notes.jpg", b"not a picture at all" * 10),  # decodes nothing, so it uses none of it
        upload("2.jpg", jpeg()),
        upload("3.png", png((64, 48), TRANSLUCENT, mode="RGBA"), "image/png"),
        upload("4.jpg", jpeg()),
        upload("5.jpg", jpeg((8, 8))),  # small enough, but it comes after: the rest is sent again whole
    ]
    client.force_login(alice)
    response, messages = post_files(client, reference_set, files)

    assert response.status_code == 302
    assert list(reference_set.images.values_list("original_name", flat=True)) == ["1.jpg", "2.jpg", "3.png"]
    assert "Added 3 of 6 images." in messages
    assert "The last 2 were more than one upload takes: choose them and upload them again." in messages
    assert "“notes.jpg” was not added: it is not a JPEG, PNG, WebP or HEIC image." in messages
    refused = [m for m in messages if TOO_MUCH in m]
    assert len(refused) == 2
    for name, message in zip(("4.jpg", "5.jpg"), refused, strict=True):
        assert message.startswith(f"“{name}” was not added: it {TOO_MUCH} (at most ")
        assert message.endswith(" megapixels in all); send it and the rest again.")


def test_a_file_past_the_limit_is_not_even_decoded(reference_set, settings):
    settings.REFERENCE_UPLOAD_MAX_PIXELS_PER_REQUEST = 64 * 48
    full = jpeg((400, 300))
    result = add_reference_images(
        reference_set, files=[upload("1.jpg", jpeg()), upload("cut.jpg", full[: len(full) // 2])]
    )
    # A damaged file is found out only by decoding it; here it is refused before that.
    assert [(name, TOO_MUCH in reason) for name, reason in result.rejected] == [("cut.jpg", True)]
    assert result.deferred == ["cut.jpg"]


def test_the_first_file_is_taken_even_when_it_alone_is_over_the_limit(client, alice, reference_set, settings):
    settings.REFERENCE_UPLOAD_MAX_PIXELS_PER_REQUEST = 100
    client.force_login(alice)
    _, messages = post_files(
        client, reference_set, [upload("big.jpg", jpeg((400, 300))), upload("b.jpg", jpeg())]
    )
    assert list(reference_set.images.values_list("original_name", flat=True)) == ["big.jpg"]
    assert "Added 1 of 2 images." in messages


def halves(size, exif=None, *, fmt="JPEG") -> bytes:
    """Red on the left half and blue on the right, as the sensor saw it."""
    picture = Image.new("RGB", size, (255, 0, 0))
    picture.paste((0, 0, 255), (size[0] // 2, 0, *size))
    options = {"exif": exif.tobytes()} if exif is not None else {}
    buffer = io.BytesIO()
    picture.save(buffer, fmt, quality=80, **options)
    return buffer.getvalue()


def rotated_clockwise() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6
    return exif


def assert_upright_portrait(stored: ReferenceImage) -> None:
    """A landscape red|blue picture turned a quarter clockwise reads red on top, blue below."""
    assert stored.height > stored.width
    with stored.image.open("rb") as fh, Image.open(fh) as img:
        assert img.format == "JPEG"
        assert img.size == (stored.width, stored.height)
        assert img.getexif().get(0x0112) in (None, 1)
        rgb = img.convert("RGB")
        top, bottom = rgb.getpixel((img.width // 2, 5)), rgb.getpixel((img.width // 2, img.height - 5))
    assert top[0] > 200
    assert top[2] < 60
    assert bottom[2] > 200
    assert bottom[0] < 60


def test_an_iphone_heic_photo_is_taken_upright(client, alice, reference_set):
    import pillow_heif  # noqa: F401  (registers the HEIF writer that makes the phone's file)

    photo = halves((60, 40), rotated_clockwise(), fmt="HEIF")
    client.force_login(alice)
    response, messages = post_files(client, reference_set, [upload("IMG_0001.HEIC", photo, "image/heic")])

    assert messages == ["Added 1 image."]
    stored = ReferenceImage.objects.get(reference_set=reference_set)
    assert (stored.width, stored.height) == (40, 60)
    assert_upright_portrait(stored)


def test_a_60_megapixel_photo_is_scaled_down_to_the_limit_upright(client, alice, reference_set, settings):
    # 9487×6325 is 60.0 megapixels; a flat-coloured JPEG of it is under a megabyte.
    photo = halves((9487, 6325), rotated_clockwise())
    client.force_login(alice)
    _, messages = post_files(client, reference_set, [upload("panorama.jpg", photo)])

    stored = ReferenceImage.objects.get(reference_set=reference_set)
    limit = settings.REFERENCE_IMAGE_MAX_PIXELS
    assert 0.999 * limit < stored.width * stored.height <= limit
    assert abs(stored.height / stored.width - 9487 / 6325) < 0.001
    assert_upright_portrait(stored)
    assert messages == [
        "Added 1 image.",
        f"“panorama.jpg” was 60.0 megapixels; it is kept at {stored.width}×{stored.height} (40.0 megapixels), "
        "the most a reference image keeps.",
    ]


def test_the_file_picker_offers_heic(client, alice, reference_set):
    client.force_login(alice)
    page = client.get(reverse("reference_set_detail", args=[reference_set.pk])).text
    accept = page.split('accept="', 1)[1].split('"', 1)[0].split(",")
    assert {".heic", ".heif", "image/heic", "image/heif", "image/jpeg"} <= set(accept)


def test_a_big_jpeg_counts_what_it_decodes_against_the_upload(reference_set, settings):
    # Wanted at a quarter of its pixels, a JPEG is decoded at half its sides: a quarter of the pixels.
    settings.REFERENCE_IMAGE_MAX_PIXELS = 400 * 300
    settings.REFERENCE_UPLOAD_MAX_PIXELS_PER_REQUEST = 2 * 400 * 300
    files = [upload(f"{n}.jpg", jpeg((800, 600))) for n in range(3)]
    result = add_reference_images(reference_set, files=files)
    assert [(i.width, i.height) for i in result.added] == [(400, 300), (400, 300)]
    assert result.deferred == ["2.jpg"]
    assert [name for name, _ in result.scaled] == ["0.jpg", "1.jpg"]
