"""A share link shows only the versions sent to the client: its pinned one, or every one sent, the
latest first. Nothing unsent is reachable through a link, by any URL; an approved version stays
there, with its master, after later versions are sent; the client's files are named with their
version."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from projects.models import FilmVersion, ReviewDecision, Sequence, ShareLink

pytestmark = pytest.mark.django_db


def make_version(sequence, number, *, sent=True, master=False) -> FilmVersion:
    version = FilmVersion(sequence=sequence, number=number, duration=4.0)
    version.film.save("film.mp4", ContentFile(f"film v{number} ".encode() * 40), save=False)
    version.poster.save("poster.jpg", ContentFile(f"poster v{number}".encode()), save=False)
    if master:
        version.master.save("master.mp4", ContentFile(f"master v{number} ".encode() * 40), save=False)
    version.sent_at = timezone.now() if sent else None
    version.save()
    return version


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice, status="done")
    make_version(sequence, 1, master=True)
    make_version(sequence, 2)
    return sequence


def issue(sequence, alice, **options) -> ShareLink:
    link, token = ShareLink.issue(sequence, created_by=alice, **options)
    link.token = token  # known only when issued; the tests keep it on the instance
    return link


def urls(link, number=None):
    """Every address through which a link serves something of a version."""
    query = f"?v={number}" if number is not None else ""
    token = link.token
    return [
        reverse("shared_film", args=[token]) + query,
        reverse("shared_film_download", args=[token]) + query,
        reverse("shared_film_download", args=[token]) + (query + "&" if query else "?") + "inline=1",
        reverse("shared_film_poster", args=[token]) + query,
        reverse("shared_film_master", args=[token]) + query,
    ]


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_form_offers_the_latest_sent_or_each_version_and_the_switches(client, alice, sequence):
    make_version(sequence, 3, sent=False)
    client.force_login(alice)
    text = client.get(reverse("sequence_detail", args=[sequence.pk])).text
    assert '<option value="" selected>Always the latest sent</option>' in text
    assert '<option value="1">Version 1</option>' in text
    assert '<option value="3">Version 3 (a draft: the link sends it)</option>' in text
    for label in ("Comment", "Approve or request changes", "Download the film", "Download the 4K master"):
        assert label in text


def test_an_unsent_version_is_not_reachable_through_a_latest_link_by_any_url(client, alice, sequence):
    """Fails before issue 19: "always the latest" showed an unsent version 3, and `?v=` served any."""
    draft = make_version(sequence, 3, sent=False, master=True)
    link = issue(sequence, alice)
    page = client.get(reverse("shared_film", args=[link.token]))
    assert "Version 2" in page.text
    assert "Version 3" not in page.text
    for url in urls(link, 3):
        assert client.get(url).status_code == 404, url
    # Without `?v=` every file is version 2's, never the draft's.
    for url in urls(link)[1:4]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert body(response) != draft.film.open().read()
        assert b"v3" not in body(response)
    draft.send(by=alice)
    assert "Version 3" in client.get(reverse("shared_film", args=[link.token])).text
    assert client.get(urls(link, 3)[1]).status_code == 200


def test_a_pinned_link_shows_only_its_version(client, alice, sequence):
    link = issue(sequence, alice, version=sequence.versions.get(number=1))
    make_version(sequence, 3)
    text = client.get(reverse("shared_film", args=[link.token])).text
    assert "Version 1" in text
    assert "Version 2" not in text
    assert "Version 3" not in text
    assert "Versions sent to you" not in text
    for number in (2, 3):
        for url in urls(link, number):
            assert client.get(url).status_code == 404, url
    film = client.get(reverse("shared_film_download", args=[link.token]))
    assert body(film) == sequence.versions.get(number=1).film.open().read()


def test_a_link_pinned_to_a_version_not_sent_shows_nothing(client, alice, sequence):
    draft = make_version(sequence, 3, sent=False)
    link = issue(sequence, alice, version=draft)
    for url in urls(link) + urls(link, 3):
        assert client.get(url).status_code == 410, url


def test_an_approved_version_stays_downloadable_with_its_master_after_later_versions(client, alice, sequence):
    link = issue(sequence, alice)
    ReviewDecision.objects.create(
        version=sequence.versions.get(number=1), share_link=link, author_name="Dana", verdict="approved"
    )
    make_version(sequence, 3)
    make_version(sequence, 4)
    page = client.get(reverse("shared_film", args=[link.token])).text
    assert "Version 4" in page
    assert "Versions sent to you" in page
    assert f'href="{reverse("shared_film", args=[link.token])}?v=1"' in page
    v1 = client.get(reverse("shared_film", args=[link.token]) + "?v=1").text
    assert "Download the 4K master of version 1" in v1
    assert "Approved" in v1
    film = client.get(reverse("shared_film_download", args=[link.token]) + "?v=1")
    assert film["Content-Disposition"] == 'attachment; filename="tour-v1.mp4"'
    assert body(film) == sequence.versions.get(number=1).film.open().read()
    master = client.get(reverse("shared_film_master", args=[link.token]) + "?v=1")
    assert master["Content-Disposition"] == 'attachment; filename="tour-v1-4k.mp4"'
    assert body(master) == sequence.versions.get(number=1).master.open().read()


def test_a_watch_only_link_streams_in_the_player_but_offers_no_download(client, alice, sequence):
    link = issue(sequence, alice, can_download=False, can_download_master=False, can_comment=False)
    text = client.get(reverse("shared_film", args=[link.token]) + "?v=1").text
    assert "Download version" not in text
    assert "4K master" not in text
    download = reverse("shared_film_download", args=[link.token])
    assert client.get(download + "?v=1").status_code == 403
    assert client.get(download + "?v=1&inline=1").status_code == 200
    assert client.get(reverse("shared_film_master", args=[link.token]) + "?v=1").status_code == 403


def test_a_link_without_approval_shows_no_decision_buttons_and_refuses_one(client, alice, sequence):
    link = issue(sequence, alice, can_approve=False)
    text = client.get(reverse("shared_film", args=[link.token])).text
    assert "Add comment" in text or "Your name" in text
    assert "Approve version" not in text
    client.post(reverse("set_review_name", args=[link.token]), {"name": "Dana"})
    refused = client.post(reverse("decide_review", args=[link.token]), {"version": 2, "verdict": "approved"})
    assert refused.status_code == 403
    assert not ReviewDecision.objects.exists()
    assert "Approve version" not in client.get(reverse("shared_film", args=[link.token])).text
    assert "Add comment" in client.get(reverse("shared_film", args=[link.token])).text
