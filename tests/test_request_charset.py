"""A request declaring a charset the form parsers cannot use is refused with 400 before anything reads it.

Django requires UTF-8 for urlencoded forms (and raises BadRequest, which with DEBUG on re-reads the
body while rendering its error page and answers 500), and for multipart forms it decodes the
fields with the declared codec, which fails for codecs that are not text encodings (zlib, hex).
"""

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from projects.models import FilmVersion, ReviewComment, Sequence, ShareLink

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
MULTIPART_BODY = b'--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nDana\r\n--x--\r\n'


@pytest.fixture
def client():
    # Errors are answered as in production rather than raised into the test.
    return Client(raise_request_exception=False)


@pytest.fixture
def review_url(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Harbour House", created_by=alice, status="done"
    )
    version = FilmVersion(sequence=sequence, number=1, duration=12.0, sent_at=timezone.now())
    version.film.save("film.mp4", ContentFile(b"film" * 100), save=False)
    version.save()
    _, token = ShareLink.issue(sequence, created_by=alice)
    return reverse("set_review_name", args=[token])


def post(client, url, body: bytes, content_type: str):
    return client.generic("POST", url, body, content_type=content_type)


@pytest.mark.parametrize("debug", [False, True])
# Django refuses even the "utf8" alias, as it may: RFC 1866 forms carry no charset.
@pytest.mark.parametrize("charset", ["x-unknown", "utf-16", "latin-1", "zlib", "utf8"])
def test_a_sign_in_form_in_another_charset_is_refused_with_400(client, alice, settings, debug, charset):
    """Fails before issue 17: 500 with DEBUG on; an unknown charset was silently read as UTF-8."""
    settings.DEBUG = debug
    body = b"username=alice&password=alice-password"
    response = post(client, reverse("login"), body, f"{FORM}; charset={charset}")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "charset" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("charset", ["zlib", "hex", "x-unknown"])
def test_a_multipart_form_in_a_codec_that_is_no_text_encoding_is_refused_with_400(client, charset):
    """Fails before issue 17: zlib and hex answered 500 (the multipart parser decoded with them)."""
    response = post(
        client, reverse("login"), MULTIPART_BODY, f"multipart/form-data; boundary=x; charset={charset}"
    )
    assert response.status_code == 400


@pytest.mark.parametrize("charset", ["x-unknown", "utf-16", "zlib"])
def test_a_share_page_post_in_another_charset_is_refused_and_changes_nothing(client, review_url, charset):
    """Fails before issue 17."""
    response = post(client, review_url, b"name=Dana", f"{FORM}; charset={charset}")
    assert response.status_code == 400
    assert "review_name" not in response.cookies
    assert not ReviewComment.objects.exists()


@pytest.mark.parametrize("content_type", [FORM, f"{FORM}; charset=utf-8", f'{FORM}; charset="UTF-8"'])
def test_utf8_forms_are_read_as_before(client, alice, content_type):
    response = post(client, reverse("login"), b"username=alice&password=alice-password", content_type)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(User.objects.get(username="alice").pk)


def test_a_share_page_post_in_utf8_is_read_as_before(client, review_url):
    response = post(client, review_url, b"name=Dana Cl%C3%ADent", f"{FORM}; charset=utf-8")
    assert response.status_code == 302
    assert "review_name" in response.cookies


def test_a_multipart_form_in_a_text_encoding_is_read_as_before(client, review_url):
    response = post(client, review_url, MULTIPART_BODY, "multipart/form-data; boundary=x; charset=latin-1")
    assert response.status_code == 302
