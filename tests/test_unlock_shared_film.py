"""A share link with a password: nothing of the film (title, player, poster, files, feedback)
before the password is given; the password is checked by Django's hashers, wrong ones are
throttled per address, and a new password asks again."""

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from projects.models import FilmVersion, Sequence, ShareLink
from projects.views import sharing

pytestmark = pytest.mark.django_db
FILM = b"secret film " * 100


@pytest.fixture
def link(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Secret Harbour", created_by=alice, status="done"
    )
    version = FilmVersion(sequence=sequence, number=1, sent_at=timezone.now())
    version.film.save("film.mp4", ContentFile(FILM), save=False)
    version.poster.save("poster.jpg", ContentFile(b"\xff\xd8poster"), save=False)
    version.master.save("master.mp4", ContentFile(b"4k" * 50), save=False)
    version.save()
    link, token = ShareLink.issue(
        sequence, created_by=alice, password_hash=ShareLink.hash_password("harbour-2026")
    )
    link.token = token  # known only when issued; the tests keep it on the instance
    return link


def unlock(client, link, password, **extra):
    return client.post(reverse("unlock_shared_film", args=[link.token]), {"password": password}, **extra)


def files(link):
    t = link.token
    return [
        reverse("shared_film_download", args=[t]),
        reverse("shared_film_download", args=[t]) + "?v=1&inline=1",
        reverse("shared_film_poster", args=[t]) + "?v=1",
        reverse("shared_film_master", args=[t]) + "?v=1",
    ]


def test_the_locked_page_shows_nothing_of_the_film(client, link):
    response = client.get(reverse("shared_film", args=[link.token]))
    assert response.status_code == 200
    assert "asks for a password" in response.text
    assert "Secret Harbour" not in response.text
    assert "<video" not in response.text
    assert "/film/" not in response.text
    assert "/poster/" not in response.text
    for url in files(link):
        refused = client.get(url)
        assert refused.status_code == 403, url
        assert b"secret film" not in refused.content
    link.refresh_from_db()
    assert (link.download_count, link.play_count) == (0, 0)


def test_the_right_password_opens_the_link_in_this_browser(client, link):
    response = unlock(client, link, "harbour-2026")
    assert response.status_code == 302
    page = client.get(reverse("shared_film", args=[link.token]))
    assert "Secret Harbour" in page.text
    film = client.get(files(link)[0])
    assert b"".join(film.streaming_content) == FILM
    assert Client().get(files(link)[0]).status_code == 403  # another browser still asks


def test_a_wrong_password_is_refused_and_opens_nothing(client, link):
    response = unlock(client, link, "harbour-2025")
    assert response.status_code == 403
    assert "not the password" in response.text
    assert "Secret Harbour" not in response.text
    assert client.get(files(link)[0]).status_code == 403


def test_a_new_password_asks_again(client, link):
    unlock(client, link, "harbour-2026")
    ShareLink.objects.filter(pk=link.pk).update(password_hash=ShareLink.hash_password("harbour-2027"))
    assert "Secret Harbour" not in client.get(reverse("shared_film", args=[link.token])).text
    assert client.get(files(link)[0]).status_code == 403


def test_a_forged_unlock_cookie_is_ignored(client, link):
    client.cookies[f"share_unlocked_{link.pk}"] = link.password_fingerprint
    assert client.get(files(link)[0]).status_code == 403


def test_feedback_waits_for_the_password(client, link):
    response = client.post(reverse("set_review_name", args=[link.token]), {"name": "Dana"})
    assert response.status_code == 403
    assert "asks for a password" in response.text


def test_wrong_passwords_are_throttled_per_address(client, link, monkeypatch):
    monkeypatch.setattr(sharing, "PASSWORD_LIMIT", 3)
    for _ in range(3):
        assert unlock(client, link, "guess-guess").status_code == 403
    assert unlock(client, link, "harbour-2026").status_code == 429  # even the right one, for a while
    assert client.get(files(link)[0]).status_code == 403
    other = Client(REMOTE_ADDR="10.9.8.7")
    assert unlock(other, link, "harbour-2026").status_code == 302


def test_unlocking_needs_the_csrf_token(link):
    strict = Client(enforce_csrf_checks=True)
    assert unlock(strict, link, "harbour-2026").status_code == 403
    assert strict.get(files(link)[0]).status_code == 403


def test_get_on_unlock_is_405(client, link):
    assert client.get(reverse("unlock_shared_film", args=[link.token])).status_code == 405
