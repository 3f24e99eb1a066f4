""" "Make keyframes": the confirmation with the amount, the hold, and "Generate" waiting for choices."""

import pytest
from django.urls import reverse

from generation.models import CreditBudget, LedgerEntry, Take
from projects import services
from projects.models import Sequence, Shot

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(project, alice, references):
    """Three gen4_turbo shots at 1280:720: shot 1 starts on a gen4_image keyframe (5 credits), shot 3
    on a gen4_image_turbo one (2 credits); shot 2 starts on shot 1's last frame."""
    sequence = Sequence.objects.create(
        project=project,
        title="Tour",
        model="gen4_turbo",
        ratio="1280:720",
        reference_set=references,
        created_by=alice,
    )
    images = list(references.images.order_by("position", "pk"))
    shots = [
        Shot.objects.create(sequence=sequence, position=i, prompt=f"Shot {i + 1}", duration=5)
        for i in range(3)
    ]
    services.set_keyframe(
        shots[0],
        slot="first",
        model="gen4_image",
        prompt="The hall of @room0 with the light of @room1",
        references=[(images[0], "room0"), (images[1], "room1")],
    )
    services.set_keyframe(
        shots[2],
        slot="first",
        model="gen4_image_turbo",
        prompt="The garden of @room2",
        references=[(images[2], "room2")],
    )
    return sequence


def url(sequence):
    return reverse("make_keyframes", args=[sequence.pk])


def test_the_confirmation_shows_each_image_the_amount_and_what_remains(client, alice, sequence):
    client.force_login(alice)
    response = client.get(url(sequence))
    assert response.status_code == 200
    text = response.text
    assert "Shot 1, first frame" in text
    assert "Shot 3, first frame" in text
    assert "The hall of @room0 with the light of @room1" in text
    assert "This reserves <strong>7 credits</strong>" in text
    assert "<strong>993</strong> would remain" in text
    assert 'name="credits" value="7"' in text
    assert "Make keyframes for 7 credits" in text


def test_confirming_holds_the_estimate_and_queues_one_image_per_keyframe(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence), {"credits": "7"})
    assert response["Location"] == reverse("sequence_detail", args=[sequence.pk]) + "#keyframes"
    takes = Take.objects.filter(shot__sequence=sequence)
    assert sorted((t.shot.position, t.endpoint, t.estimated_credits) for t in takes) == [
        (0, "text_to_image", 5),
        (2, "text_to_image", 2),
    ]
    assert all(t.keyframe_id for t in takes)
    holds = LedgerEntry.objects.filter(user=alice, kind="hold").values_list("credits", flat=True)
    assert sorted(holds) == [2, 5]
    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.DRAFT
    page = client.get(reverse("sequence_detail", args=[sequence.pk]))
    assert "Keyframe images are being made" in page.text
    assert "about 5 credits" in page.text


def test_a_changed_estimate_asks_again_and_holds_nothing(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence), {"credits": "5"}, follow=True)
    assert "The estimate is now 7 credits" in response.text
    assert not LedgerEntry.objects.exists()
    assert not Take.objects.exists()


def test_it_refuses_when_budget_is_exhausted(client, alice, sequence):
    CreditBudget.objects.filter(user=alice).update(monthly_limit=6)
    client.force_login(alice)
    page = client.get(url(sequence))
    assert "This needs 7 credits but only 6 are left this month" in page.text
    response = client.post(url(sequence), {"credits": "7"}, follow=True)
    assert response.status_code == 200
    assert not LedgerEntry.objects.exists()
    assert not Take.objects.exists()


def test_keyframes_on_their_way_are_not_made_twice(client, alice, sequence):
    client.force_login(alice)
    client.post(url(sequence), {"credits": "7"})
    page = client.get(url(sequence))
    assert "there is nothing to make" in page.text
    response = client.post(url(sequence), {"credits": "0"}, follow=True)
    assert "Every keyframe has a chosen image or one on its way" in response.text
    assert Take.objects.count() == 2


def test_generate_waits_until_every_keyframe_has_a_chosen_image(client, alice, sequence):
    client.force_login(alice)
    page = client.get(reverse("sequence_detail", args=[sequence.pk]))
    assert reverse("start_sequence", args=[sequence.pk]) not in page.text
    assert "2 keyframes made from reference images have no chosen image yet" in page.text
    assert "“Generate” waits until every keyframe has one" in page.text
    assert url(sequence) in page.text
    client.post(reverse("start_sequence", args=[sequence.pk]), {"credits": "0"})
    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.DRAFT
    assert not Take.objects.exists()


def test_it_redirects_anonymous_users_to_login(client, sequence):
    assert reverse("login") in client.get(url(sequence))["Location"]
    assert reverse("login") in client.post(url(sequence), {"credits": "7"})["Location"]


def test_outsiders_get_404(client, carol, sequence):
    client.force_login(carol)
    assert client.get(url(sequence)).status_code == 404
    assert client.post(url(sequence), {"credits": "7"}).status_code == 404
    assert client.get(reverse("keyframe_progress", args=[sequence.pk])).status_code == 404


def test_viewers_get_403_and_see_the_keyframes_without_actions(client, bob, sequence):
    client.force_login(bob)
    assert client.get(url(sequence)).status_code == 403
    assert client.post(url(sequence), {"credits": "7"}).status_code == 403
    assert not Take.objects.exists()
    page = client.get(reverse("sequence_detail", args=[sequence.pk]))
    assert "First frame of shot 1, made from reference images" in page.text
    assert url(sequence) not in page.text
    progress = client.get(reverse("keyframe_progress", args=[sequence.pk]))
    assert progress.status_code == 200
    assert "First frame of shot 3, made from reference images" in progress.text
