"""Owners brand their project's share pages: a client-facing name, a logo and an accent colour."""

import io

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from projects.models import FilmVersion, Membership, Project, Sequence, ShareLink
from tests.helpers import COLOURS, photo, png

pytestmark = pytest.mark.django_db


def url(project):
    return reverse("set_project_branding", args=[project.pk])


TRANSLUCENT = (20, 40, 200, 128)


def brand(client, project, **data):
    fields = {"client_name": "Northwind Estates", "accent_color": "#0a7f5a", **data}
    return client.post(url(project), fields)


@pytest.fixture
def link(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice, status="done")
    version = FilmVersion(sequence=sequence, number=1, sent_at=timezone.now())
    version.film.save("film.mp4", ContentFile(b"\0" * 100))
    Sequence.objects.filter(pk=sequence.pk).update(film=version.film.name)
    link, token = ShareLink.issue(sequence, created_by=alice)
    link.token = token
    return link


def test_owners_set_the_name_logo_and_colour(client, alice, project):
    client.force_login(alice)
    response = brand(
        client, project, logo=SimpleUploadedFile("logo.png", png((200, 80), TRANSLUCENT, mode="RGBA"))
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#branding")
    project.refresh_from_db()
    assert (project.client_name, project.accent_color) == ("Northwind Estates", "#0a7f5a")
    assert project.logo.name.startswith("logos/")
    assert project.logo.name.endswith(".png")  # re-encoded, transparency kept
    with project.logo.open("rb") as fh:
        assert Image.open(fh).size == (200, 80)
    page = client.get(reverse("project_detail", args=[project.pk])).text
    assert 'id="branding"' in page
    assert reverse("project_logo", args=[project.pk]) in page


def test_the_share_page_shows_the_branding_instead_of_the_apps_header(client, alice, project, link):
    client.force_login(alice)
    brand(client, project, logo=SimpleUploadedFile("logo.jpg", photo(COLOURS[0], 0)))
    client.logout()
    text = client.get(reverse("shared_film", args=[link.token])).text
    assert '<span class="brand">Northwind Estates</span>' in text
    assert "Videogen" not in text
    assert 'style="--accent: #0a7f5a"' in text
    logo_url = reverse("shared_film_logo", args=[link.token])
    assert f'src="{logo_url}"' in text
    logo = client.get(logo_url)
    assert logo.status_code == 200
    assert logo["Content-Type"] == "image/jpeg"


def test_an_unbranded_share_page_keeps_the_plain_header(client, link):
    text = client.get(reverse("shared_film", args=[link.token])).text
    assert '<span class="brand">Videogen</span>' in text
    assert "--accent" not in text
    assert client.get(reverse("shared_film_logo", args=[link.token])).status_code == 404


def test_the_logo_is_revalidated_on_every_use(client, alice, project, link):
    client.force_login(alice)
    brand(client, project, logo=SimpleUploadedFile("logo.png", png((200, 80), TRANSLUCENT, mode="RGBA")))
    client.logout()
    response = client.get(reverse("shared_film_logo", args=[link.token]))
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]


def test_a_revoked_links_logo_is_gone_too(client, alice, project, link):
    client.force_login(alice)
    brand(client, project, logo=SimpleUploadedFile("logo.png", png((200, 80), TRANSLUCENT, mode="RGBA")))
    link.revoke()
    assert client.get(reverse("shared_film_logo", args=[link.token])).status_code == 410


def test_the_name_is_escaped_on_the_share_page(client, alice, project, link):
    client.force_login(alice)
    brand(client, project, client_name="<script>x()</script>")
    text = client.get(reverse("shared_film", args=[link.token])).text
    assert "<script>x()" not in text
    assert "&lt;script&gt;x()&lt;/script&gt;" in text


@pytest.mark.parametrize("colour", ["red", "#12345", "#1234567", "#12345g", '#fff" onload="x'])
def test_a_colour_that_is_not_six_hex_digits_is_refused(client, alice, project, colour):
    client.force_login(alice)
    response = brand(client, project, accent_color=colour)
    assert response.status_code == 200
    assert "six hex digits" in response.text or "at most 7 characters" in response.text
    project.refresh_from_db()
    assert project.accent_color == ""


def test_a_file_that_is_not_an_image_is_refused(client, alice, project):
    client.force_login(alice)
    response = brand(client, project, logo=SimpleUploadedFile("logo.png", b"<svg onload=alert(1)>"))
    assert response.status_code == 200
    project.refresh_from_db()
    assert not project.logo
    assert project.client_name == ""


def test_a_logo_over_2_mb_is_refused(client, alice, project):
    client.force_login(alice)
    big = photo(COLOURS[1], 1) + b"\0" * (2 * 1024 * 1024)
    response = brand(client, project, logo=SimpleUploadedFile("logo.jpg", big))
    assert response.status_code == 200
    assert "larger than 2 MB" in response.text
    project.refresh_from_db()
    assert not project.logo


def test_a_replaced_logo_file_is_deleted(client, alice, project):
    client.force_login(alice)
    brand(client, project, logo=SimpleUploadedFile("logo.png", png((200, 80), TRANSLUCENT, mode="RGBA")))
    project.refresh_from_db()
    old = project.logo.name
    brand(client, project, logo=SimpleUploadedFile("logo.png", png((100, 40), TRANSLUCENT, mode="RGBA")))
    project.refresh_from_db()
    assert project.logo.name != old
    assert not default_storage.exists(old)
    brand(client, project, **{"logo-clear": "on"})
    project.refresh_from_db()
    assert not project.logo


def test_editors_and_viewers_may_not_brand(client, project, bob, django_user_model):
    editor = django_user_model.objects.create_user("erin", "erin@example.com", "x")
    Membership.objects.create(project=project, user=editor, role=Membership.Role.EDITOR)
    for user in (editor, bob):
        client.force_login(user)
        assert brand(client, project).status_code == 403
        assert 'id="branding"' not in client.get(reverse("project_detail", args=[project.pk])).text
    assert Project.objects.get(pk=project.pk).client_name == ""


def test_outsiders_get_404_and_anonymous_users_log_in(client, carol, project):
    assert brand(client, project).status_code == 302
    client.force_login(carol)
    assert brand(client, project).status_code == 404
    assert client.get(reverse("project_logo", args=[project.pk])).status_code == 404


def test_it_refuses_get(client, alice, project):
    client.force_login(alice)
    assert client.get(url(project)).status_code == 405


def test_a_big_logo_is_stored_at_most_1024_pixels_long(client, alice, project):
    buffer = io.BytesIO()
    Image.new("RGB", (3000, 1200), (20, 40, 200)).save(buffer, "JPEG", quality=60)
    client.force_login(alice)
    assert brand(client, project, logo=SimpleUploadedFile("logo.jpg", buffer.getvalue())).status_code == 302
    project.refresh_from_db()
    with project.logo.open("rb") as fh, Image.open(fh) as logo:
        assert logo.size == (1024, 410)


def test_saving_the_branding_writes_only_the_branding(client, alice, project):
    from tests.test_edit_conflicts import written_just_before_the_view_writes

    client.force_login(alice)
    with written_just_before_the_view_writes(Project, project.pk, description="Written meanwhile"):
        assert brand(client, project).status_code == 302
    project.refresh_from_db()
    assert (project.client_name, project.description) == ("Northwind Estates", "Written meanwhile")


def test_a_logo_kept_when_only_the_name_changes(client, alice, project):
    client.force_login(alice)
    brand(client, project, logo=SimpleUploadedFile("logo.png", png((200, 80), TRANSLUCENT, mode="RGBA")))
    project.refresh_from_db()
    logo = project.logo.name
    brand(client, project, client_name="Northwind")
    project.refresh_from_db()
    assert (project.client_name, project.logo.name) == ("Northwind", logo)
    assert default_storage.exists(logo)
