import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from projects.models import Membership, Sequence, ShareLink, token_digest

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(project, alice):
    return Sequence.objects.create(
        project=project, title="Tour", created_by=alice, status="done", film="films/tour.mp4"
    )


def url(sequence):
    return reverse("create_share_link", args=[sequence.pk])


def test_owners_create_a_link_that_never_expires(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence), {"expires_in_days": ""})
    assert response.status_code == 200
    link = ShareLink.objects.get()
    assert link.expires_at is None
    assert link.created_by == alice
    assert reverse("sequence_detail", args=[sequence.pk]) + "#sharing" in response.text


def test_the_link_is_shown_once_and_only_its_digest_is_stored(client, alice, sequence):
    """Fails before issue 10: the token was stored in plain text and shown on every visit."""
    client.force_login(alice)
    response = client.post(url(sequence), {"expires_in_days": ""})
    match = re.search(r'value="(http://testserver/s/([^/"]+)/)"', response.text)
    assert match, response.text
    shared_url, token = match.groups()
    assert len(token) >= 43
    assert response["Cache-Control"] == "no-store"
    link = ShareLink.objects.get()
    assert link.token_digest == token_digest(token)
    assert token not in link.token_digest
    assert not any(token in str(value) for value in ShareLink.objects.values().get().values())
    assert token not in client.get(reverse("sequence_detail", args=[sequence.pk])).text
    assert client.get(shared_url).status_code == 200


def test_an_editor_makes_a_new_link_beside_an_old_one(client, bob, sequence):
    Membership.objects.filter(user=bob).update(role="editor")
    client.force_login(bob)
    first = client.post(url(sequence), {"expires_in_days": ""})
    second = client.post(url(sequence), {"expires_in_days": ""})
    assert "Link 1" in first.text
    assert "Link 2" in second.text
    assert ShareLink.objects.filter(sequence=sequence).count() == 2


def test_editors_create_a_link_with_an_expiry(client, bob, sequence):
    Membership.objects.filter(user=bob).update(role="editor")
    client.force_login(bob)
    client.post(url(sequence), {"expires_in_days": "7"})
    expires_at = ShareLink.objects.get().expires_at
    assert abs(expires_at - (timezone.now() + dt.timedelta(days=7))) < dt.timedelta(minutes=1)


def test_an_unfinished_film_cannot_be_shared(client, alice, sequence):
    Sequence.objects.filter(pk=sequence.pk).update(status="running")
    client.force_login(alice)
    response = client.post(url(sequence), {}, follow=True)
    assert "once the film is finished" in response.text
    assert not ShareLink.objects.exists()


def test_a_bad_expiry_creates_nothing(client, alice, sequence):
    client.force_login(alice)
    client.post(url(sequence), {"expires_in_days": "0"})
    client.post(url(sequence), {"expires_in_days": "soon"})
    assert not ShareLink.objects.exists()


def test_it_redirects_anonymous_users_to_login(client, sequence):
    assert reverse("login") in client.post(url(sequence))["Location"]


def test_outsiders_get_404(client, carol, sequence):
    client.force_login(carol)
    assert client.post(url(sequence)).status_code == 404


def test_viewers_get_403(client, bob, sequence):
    client.force_login(bob)
    assert client.post(url(sequence)).status_code == 403
    assert not ShareLink.objects.exists()


def test_it_refuses_get(client, alice, sequence):
    client.force_login(alice)
    assert client.get(url(sequence)).status_code == 405
