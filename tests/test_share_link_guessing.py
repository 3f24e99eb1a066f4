"""Guessing share-link tokens is throttled per address; tokens are long and looked up by digest."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from projects.models import FilmVersion, Sequence, ShareLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def link(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice, status="done")
    sequence.film.save("film.mp4", ContentFile(b"\x00" * 64))
    FilmVersion.objects.create(sequence=sequence, number=1, film=sequence.film.name, sent_at=timezone.now())
    link, token = ShareLink.issue(sequence, created_by=alice)
    link.token = token  # known only when issued; the tests keep it on the instance
    return link


def test_tokens_carry_at_least_128_bits(link):
    assert len(link.token) >= 43  # 32 random bytes in URL-safe base64
    assert link.token_digest
    assert link.token not in link.token_digest


def test_a_token_differing_in_one_character_finds_nothing(link):
    wrong = link.token[:-1] + ("A" if link.token[-1] != "A" else "B")
    assert ShareLink.find(link.token) == link
    assert ShareLink.find(wrong) is None


def test_repeated_unknown_tokens_from_one_address_are_refused(client, link, settings):
    settings.SHARE_LINK_MISS_LIMIT = 5
    for i in range(5):
        assert client.get(reverse("shared_film", args=[f"guess{i}"])).status_code == 404

    refused = client.get(reverse("shared_film", args=["guess-again"]))
    real = client.get(reverse("shared_film", args=[link.token]))

    assert refused.status_code == 429
    assert real.status_code == 429  # the guesser cannot use the throttle to test tokens
    assert client.get(reverse("shared_film", args=[link.token]), REMOTE_ADDR="10.9.8.7").status_code == 200
