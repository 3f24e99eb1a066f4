"""MAX_REQUEST_BYTES and ANONYMOUS_MAX_REQUEST_BYTES (projects/request_size.py): a body above the limit
for its sender is refused with 413 before it is read."""

import io
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import AnonymousUser
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from projects.models import FilmVersion, ReferenceImage, ReferenceSet, ReviewComment, Sequence, ShareLink
from projects.request_size import RequestSizeLimitMiddleware

pytestmark = pytest.mark.django_db


class UnreadableBody(io.RawIOBase):
    """A body that must not be read: reading it fails the test."""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the body was read")

    def readinto(self, buffer) -> int:
        raise AssertionError("the body was read")


class StreamedBody(io.RawIOBase):
    """A body of `size` bytes that can be read once and not seeked, as from a socket."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        count = self.left if size is None or size < 0 else min(size, self.left)
        self.left -= count
        self.bytes_read += count
        return b"x" * count


def page(response) -> str:
    # Sizes are written with a no-break space between number and unit.
    return response.text.replace("\xa0", " ")


def photo(size=(400, 300)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.effect_noise(size, 80).convert("RGB").save(buffer, "JPEG", quality=95)
    return SimpleUploadedFile("room.jpg", buffer.getvalue(), content_type="image/jpeg")


@pytest.fixture
def reference_set(project):
    return ReferenceSet.objects.create(project=project, name="Rooms")


def url(reference_set):
    return reverse("upload_reference_images", args=[reference_set.pk])


def test_an_upload_over_the_limit_is_refused_with_413_and_nothing_is_stored(
    client, alice, reference_set, settings
):
    settings.MAX_REQUEST_BYTES = 10 * 1024
    client.force_login(alice)
    response = client.post(url(reference_set), {"images": [photo()]})
    assert response.status_code == 413
    assert "Upload too large" in page(response)
    assert "the limit is 10.0 KB per request" in page(response)
    assert not ReferenceImage.objects.exists()


def test_an_upload_under_the_limit_is_stored(client, alice, reference_set, settings):
    settings.MAX_REQUEST_BYTES = 1024 * 1024
    client.force_login(alice)
    response = client.post(url(reference_set), {"images": [photo()]})
    assert response.status_code == 302
    assert reference_set.images.count() == 1


def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body(
    client, alice, reference_set, settings
):
    settings.MAX_REQUEST_BYTES = 1024 * 1024
    client.force_login(alice)
    response = client.generic(
        "POST",
        url(reference_set),
        b"",
        content_type="multipart/form-data; boundary=x",
        **{"CONTENT_LENGTH": str(10 * 1024**3), "wsgi.input": UnreadableBody()},
    )
    assert response.status_code == 413
    assert "This request is 10.0 GB; the limit is 1.0 MB per request" in page(response)
    assert not ReferenceImage.objects.exists()


def test_the_default_limit_holds_several_full_size_reference_images():
    assert django_settings.MAX_REQUEST_BYTES >= 5 * django_settings.REFERENCE_IMAGE_MAX_BYTES


def counted_request(body: StreamedBody, *, user=None):
    request = RequestFactory().post("/anywhere/", data=b"", content_type="application/octet-stream")
    request.META.pop("CONTENT_LENGTH", None)
    request._stream = body
    request.user = user
    return request


def test_without_a_length_the_body_is_counted_and_refused_one_byte_past_the_limit(settings, alice):
    settings.MAX_REQUEST_BYTES = 100_000
    body = StreamedBody(10 * 1024 * 1024)
    middleware = RequestSizeLimitMiddleware(lambda request: HttpResponse("reached the view"))
    response = middleware(counted_request(body, user=alice))
    assert response.status_code == 413
    assert "larger than the limit of 97.7 KB per request" in page(response)
    assert body.bytes_read == 100_001


def test_without_a_length_a_body_under_the_limit_reaches_the_view_whole(settings, alice):
    settings.MAX_REQUEST_BYTES = 100_000
    seen = {}

    def view(request):
        seen["body"] = request.body
        return HttpResponse("ok")

    response = RequestSizeLimitMiddleware(view)(counted_request(StreamedBody(100_000), user=alice))
    assert response.status_code == 200
    assert seen["body"] == b"x" * 100_000


# --- requests from someone not signed in --------------------------------------------------------


@pytest.fixture
def review_link(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Harbour House", created_by=alice, status="done"
    )
    version = FilmVersion(sequence=sequence, number=1, duration=12.0, sent_at=timezone.now())
    version.film.save("film.mp4", ContentFile(b"film" * 100), save=False)
    version.save()
    _, token = ShareLink.issue(sequence, created_by=alice)
    return token


def unread_post(client, url, *, length: int):
    return client.generic(
        "POST",
        url,
        b"",
        content_type="application/x-www-form-urlencoded",
        **{"CONTENT_LENGTH": str(length), "wsgi.input": UnreadableBody()},
    )


@pytest.mark.parametrize("name", ["login", "password_reset", "admin:login"])
def test_an_anonymous_sign_in_post_above_the_small_limit_is_refused_unread(client, name):
    """Fails before issue 17: anyone could send 201 MB to the sign-in pages."""
    response = unread_post(client, reverse(name), length=django_settings.ANONYMOUS_MAX_REQUEST_BYTES + 1)
    assert response.status_code == 413
    assert "64.0 KB" in page(response)


@pytest.mark.parametrize("name", ["set_review_name", "add_review_comment", "decide_review"])
def test_an_anonymous_share_page_post_above_the_small_limit_is_refused_unread(client, review_link, name):
    """Fails before issue 17."""
    response = unread_post(client, reverse(name, args=[review_link]), length=1024 * 1024)
    assert response.status_code == 413


def test_an_anonymous_upload_to_a_share_page_is_refused_and_changes_nothing(client, review_link):
    response = client.post(
        reverse("add_review_comment", args=[review_link]),
        {"version": 1, "body": "Nice", "file": SimpleUploadedFile("big.bin", b"x" * 100_000)},
    )
    assert response.status_code == 413
    assert not ReviewComment.objects.exists()


def test_the_longest_comment_a_client_may_write_fits_the_small_limit(client, review_link):
    # 2000 characters of four UTF-8 bytes each, every byte sent as %XX: 24 KB.
    url = reverse("set_review_name", args=[review_link])
    assert client.post(url, {"name": "Dana"}).status_code == 302
    body = "\U0001f3e0" * 2000
    response = client.post(
        reverse("add_review_comment", args=[review_link]),
        urlencode({"version": 1, "body": body}),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 302
    assert ReviewComment.objects.get().body == body


def test_an_anonymous_sign_in_under_the_small_limit_works(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "alice-password"})
    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_a_signed_in_upload_above_the_small_limit_is_stored(client, alice, reference_set, settings):
    settings.ANONYMOUS_MAX_REQUEST_BYTES = 1024
    client.force_login(alice)
    response = client.post(url(reference_set), {"images": [photo()]})
    assert response.status_code == 302
    assert reference_set.images.count() == 1


def test_the_same_upload_signed_out_is_refused(client, reference_set, settings):
    settings.ANONYMOUS_MAX_REQUEST_BYTES = 1024
    response = client.post(url(reference_set), {"images": [photo()]})
    assert response.status_code == 413
    assert not ReferenceImage.objects.exists()


def test_without_a_length_an_anonymous_body_is_counted_to_the_small_limit(settings):
    settings.ANONYMOUS_MAX_REQUEST_BYTES = 1000
    body = StreamedBody(10 * 1024 * 1024)
    request = counted_request(body, user=AnonymousUser())
    response = RequestSizeLimitMiddleware(lambda request: HttpResponse("reached the view"))(request)
    assert response.status_code == 413
    assert body.bytes_read == 1001
