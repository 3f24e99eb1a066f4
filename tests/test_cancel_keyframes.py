"""Stopping keyframe images on their way, from the sequence page, against the simulator over real HTTP."""

import time

import pytest
from django.urls import reverse

from generation import credits, pipeline
from generation.models import LedgerEntry, Take
from projects import services
from projects.models import Sequence, Shot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline_pipeline")]


@pytest.fixture
def sequence(project, alice, references):
    sequence = Sequence.objects.create(
        project=project,
        title="Tour",
        model="gen4_turbo",
        ratio="1280:720",
        reference_set=references,
        created_by=alice,
    )
    shot = Shot.objects.create(sequence=sequence, position=0, prompt="Into the hall", duration=5)
    image = references.images.order_by("position", "pk").first()
    services.set_keyframe(
        shot,
        slot="first",
        model="gen4_image",
        prompt="The hall of @room0 [sim:slow=30]",
        references=[(image, "room0")],
    )
    return sequence


def url(sequence):
    return reverse("cancel_keyframes", args=[sequence.pk])


def _running(take: Take, timeout: float = 10) -> Take:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline.poll_once()
        take.refresh_from_db()
        if take.status == Take.Status.RUNNING:
            return take
        time.sleep(0.05)
    raise AssertionError(f"the image is still {take.status}")


def test_an_image_on_its_way_is_stopped_after_a_confirmation(client, alice, runway, sequence):
    (take,) = pipeline.make_keyframes(sequence, user=alice)
    _running(take)
    client.force_login(alice)
    page = client.get(reverse("sequence_detail", args=[sequence.pk]))
    assert url(sequence) in page.text
    assert "Make keyframes…" not in page.text
    confirmation = client.post(url(sequence))
    assert "Stop the keyframe images of “Tour” that are on their way?" in confirmation.text
    take.refresh_from_db()
    assert take.status == Take.Status.RUNNING
    response = client.post(url(sequence), {"confirm": "yes"}, follow=True)
    assert "Stopped 1 keyframe image." in response.text
    take.refresh_from_db()
    assert take.status == Take.Status.CANCELLED
    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.DRAFT
    # Runway keeps the charge of a task it saw running: settled, nothing left held.
    assert not credits.open_holds().filter(user=alice).exists()
    settled = LedgerEntry.objects.filter(take=take, kind="settle").values_list("credits", flat=True)
    assert list(settled) == [take.cost_credits] == [5]
    assert "5 credits charged" in response.text
    assert "Make keyframes…" in response.text


def test_a_generating_sequence_is_stopped_by_its_own_cancel(client, alice, sequence):
    Sequence.objects.filter(pk=sequence.pk).update(status="running")
    client.force_login(alice)
    response = client.post(url(sequence), {"confirm": "yes"}, follow=True)
    assert "“Cancel generation” stops its keyframe images too" in response.text


def test_permissions(client, bob, carol, sequence):
    assert reverse("login") in client.post(url(sequence))["Location"]
    client.force_login(carol)
    assert client.post(url(sequence)).status_code == 404
    client.force_login(bob)
    assert client.post(url(sequence)).status_code == 403
    assert client.get(url(sequence)).status_code == 405
