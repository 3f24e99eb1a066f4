"""Reviewing keyframe images on the sequence page: the image itself, "Use this image", "Make another".

The images are made by the simulator over real HTTP, with the pipeline run in this process."""

import io
import time

import pytest
from django.urls import reverse
from PIL import Image

from generation import pipeline
from generation.models import LedgerEntry, Take
from projects import services
from projects.models import Keyframe, Sequence, Shot
from tests.helpers import assert_ledger_exact

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline_pipeline")]


def _settle(takes: list[Take], timeout: float = 30) -> list[Take]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline.poll_once()
        for take in takes:
            take.refresh_from_db()
        if all(take.is_final for take in takes):
            return takes
        time.sleep(0.05)
    raise AssertionError(f"keyframe images still {[t.status for t in takes]}")


@pytest.fixture
def keyframe(project, alice, references):
    sequence = Sequence.objects.create(
        project=project,
        title="Tour",
        model="gen4_turbo",
        ratio="1280:720",
        reference_set=references,
        created_by=alice,
    )
    shot = Shot.objects.create(sequence=sequence, position=0, prompt="Into the hall", duration=5)
    images = list(references.images.order_by("position", "pk"))
    keyframe = services.set_keyframe(
        shot,
        slot="first",
        model="gen4_image",
        prompt="The hall of @room0",
        references=[(images[0], "room0")],
    )
    return keyframe


@pytest.fixture
def made(keyframe, alice):
    """The keyframe with one finished image."""
    (take,) = _settle(pipeline.make_keyframes(keyframe.shot.sequence, user=alice))
    assert take.status == Take.Status.SUCCEEDED, take.failure_code
    return take


def choose_url(take):
    return reverse("choose_keyframe_take", args=[take.pk])


def test_the_page_shows_the_image_its_cost_and_use_this_image(client, alice, made):
    client.force_login(alice)
    page = client.get(reverse("sequence_detail", args=[made.shot.sequence_id]))
    assert reverse("keyframe_image", args=[made.pk]) in page.text
    assert f"{made.cost_credits} credits charged" in page.text
    assert choose_url(made) in page.text
    assert "Use this image" in page.text


def test_choosing_an_image_lets_the_sequence_generate(client, alice, made):
    client.force_login(alice)
    assert client.get(choose_url(made)).status_code == 405
    response = client.post(choose_url(made))
    assert response["Location"].endswith(f"#keyframe-{made.keyframe_id}")
    assert Keyframe.objects.get(pk=made.keyframe_id).chosen_take_id == made.pk
    page = client.get(reverse("sequence_detail", args=[made.shot.sequence_id]))
    assert "Every keyframe made from reference images has its image chosen" in page.text
    assert reverse("start_sequence", args=[made.shot.sequence_id]) in page.text
    assert choose_url(made) not in page.text


def test_members_see_the_image_and_outsiders_get_404(client, alice, bob, carol, made):
    image_url = reverse("keyframe_image", args=[made.pk])
    assert reverse("login") in client.get(image_url)["Location"]
    client.force_login(bob)
    response = client.get(image_url)
    assert response.status_code == 200
    picture = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert picture.size[0] > picture.size[1]
    client.force_login(carol)
    assert client.get(image_url).status_code == 404
    assert client.post(choose_url(made)).status_code == 404


def test_viewers_cannot_choose(client, bob, made):
    client.force_login(bob)
    assert client.post(choose_url(made)).status_code == 403
    assert Keyframe.objects.get(pk=made.keyframe_id).chosen_take_id is None


def test_a_clip_is_not_a_keyframe_image(client, alice, made):
    clip = Take.objects.create(shot=made.shot, user=alice, status=Take.Status.SUCCEEDED)
    client.force_login(alice)
    assert client.post(choose_url(clip)).status_code == 404
    assert client.get(reverse("keyframe_image", args=[clip.pk])).status_code == 404


def test_make_another_is_confirmed_with_its_cost_then_held(client, alice, runway, made):
    client.force_login(alice)
    retake = reverse("retake_keyframe", args=[made.keyframe_id])
    assert client.get(retake).status_code == 405
    page = client.post(retake)
    assert "This reserves <strong>5 credits</strong>" in page.text
    assert 'name="credits" value="5"' in page.text
    assert Take.objects.filter(keyframe=made.keyframe_id).count() == 1
    response = client.post(retake, {"confirm": "yes", "credits": "5"})
    assert response["Location"].endswith(f"#keyframe-{made.keyframe_id}")
    takes = list(Take.objects.filter(keyframe=made.keyframe_id).order_by("pk"))
    assert len(takes) == 2
    _settle(takes)
    page = client.get(reverse("sequence_detail", args=[made.shot.sequence_id]))
    assert "Image 2" in page.text
    assert_ledger_exact(alice, runway)


def test_a_keyframe_refused_by_moderation_says_why_and_is_made_again(client, alice, runway, keyframe):
    runway.fail_next("moderation", code="SAFETY.INPUT.TEXT")
    client.force_login(alice)
    client.post(reverse("make_keyframes", args=[keyframe.shot.sequence_id]), {"credits": "5"})
    (failed,) = _settle(list(Take.objects.filter(keyframe=keyframe)))
    assert failed.status == Take.Status.FAILED
    page = client.get(reverse("sequence_detail", args=[keyframe.shot.sequence_id]))
    assert "moderation rejected the prompt" in page.text
    assert choose_url(failed) not in page.text
    retake = reverse("retake_keyframe", args=[keyframe.pk])
    assert retake in page.text
    client.post(retake, {"confirm": "yes", "credits": "5"})
    takes = _settle(list(Take.objects.filter(keyframe=keyframe).order_by("pk")))
    assert takes[1].status == Take.Status.SUCCEEDED
    client.post(choose_url(takes[1]))
    assert Keyframe.objects.get(pk=keyframe.pk).chosen_take_id == takes[1].pk
    assert_ledger_exact(alice, runway)
    # Runway keeps the charge of a prompt its moderation refused (SAFETY.INPUT.*): the refused
    # image is paid at Runway's cost and nothing of its hold goes back.
    refused = next(task for task in runway.tasks() if task["id"] == failed.runway_task_id)
    assert refused["cost"] == 5
    assert list(LedgerEntry.objects.filter(take=failed).order_by("pk").values_list("kind", "credits")) == [
        ("hold", 5),
        ("settle", 5),
    ]
