"""Films, takes, posters and reference images are served only by the views that check access.

`/media/...` is not routed in any mode (it used to be with DEBUG=True, the `make run` default),
and every page shows its images and videos through the checked views.
"""

import importlib
import re

import pytest
from django.core.files.base import ContentFile
from django.urls import Resolver404, clear_url_caches, resolve, reverse
from django.utils import timezone

import videogen.urls
from generation.models import Take
from projects.models import FilmVersion, Sequence, ShareLink, Shot

pytestmark = pytest.mark.django_db
SRC = re.compile(r'(?:src|poster|href)="(/[^"#]*)')


@pytest.fixture
def debug_urls(settings):
    settings.DEBUG = True
    clear_url_caches()
    try:
        yield importlib.reload(videogen.urls)
    finally:
        settings.DEBUG = False
        importlib.reload(videogen.urls)
        clear_url_caches()


@pytest.fixture
def sequence(project, alice, references):
    sequence = Sequence.objects.create(
        project=project, title="Tour", created_by=alice, status="done", reference_set=references
    )
    sequence.film.save("tour.mp4", ContentFile(b"\0" * 100), save=False)
    sequence.poster.save("tour.jpg", ContentFile(b"\xff\xd8poster"), save=True)
    image = references.images.first()
    shot = Shot.objects.create(
        sequence=sequence, prompt="Pan", first_frame="reference", first_frame_image=image
    )
    take = Take.objects.create(shot=shot, user=alice, status="succeeded")
    take.output.save("take.mp4", ContentFile(b"\0" * 50), save=True)
    return sequence


def test_media_urls_are_not_routed_even_in_debug(debug_urls, sequence):
    """Fails before issue 10: with DEBUG=True, /media/<path> served any file without a login."""
    for name in (sequence.film.name, sequence.poster.name, sequence.shots.get().takes.get().output.name):
        with pytest.raises(Resolver404):
            resolve(f"/media/{name}", urlconf=debug_urls)


def _media_links(text: str) -> set[str]:
    return {url for url in SRC.findall(text) if not url.startswith(("/static/", "/accounts/"))}


def test_every_page_shows_its_media_through_checked_views(client, alice, carol, project, sequence):
    client.force_login(alice)
    pages = [
        reverse("dashboard"),
        reverse("project_detail", args=[project.pk]),
        reverse("reference_set_detail", args=[sequence.reference_set_id]),
        reverse("sequence_detail", args=[sequence.pk]),
    ]
    media = set()
    for page in pages:
        text = client.get(page).text
        assert "/media/" not in text, page
        media |= {url for url in _media_links(text) if re.search(r"/(file|video|film|poster)/", url)}
    assert {url.split("/")[1] for url in media} == {
        "reference-images",
        "takes",
        "sequences",
    }
    for url in media:
        assert client.get(url).status_code == 200, url
    client.force_login(carol)
    for url in media:
        assert client.get(url).status_code == 404, url


def test_the_share_page_shows_its_media_through_the_link(client, alice, sequence):
    # A share link shows only versions sent to the client.
    FilmVersion.objects.create(
        sequence=sequence,
        number=1,
        film=sequence.film.name,
        poster=sequence.poster.name,
        sent_at=timezone.now(),
    )
    _, token = ShareLink.issue(sequence, created_by=alice)
    text = client.get(reverse("shared_film", args=[token])).text
    assert "/media/" not in text
    links = {url for url in _media_links(text) if "/s/" in url}
    assert links
    for url in links:
        assert client.get(url).status_code == 200, url
