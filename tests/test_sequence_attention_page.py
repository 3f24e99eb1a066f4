"""The sequence page of a stitched sequence stopped at a failed shot, and its actions: edit that
shot, retake it (with every later shot, confirmed with the whole cost), generate again, or stop."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from generation import credits
from generation.models import LedgerEntry, Take
from projects.models import Sequence, Shot
from tests.helpers import versioned

pytestmark = pytest.mark.django_db

REASON = "Runway's moderation rejected the prompt. Reword it and retake the shot."


@pytest.fixture
def sequence(project, alice):
    """Shot 1 done; shot 2 rejected by moderation; shot 3 stopped. gen4.5, 5 s: 60 credits a shot."""
    sequence = Sequence.objects.create(
        project=project,
        title="Tour",
        model="gen4.5",
        created_by=alice,
        is_stitched=True,
        status=Sequence.Status.NEEDS_ATTENTION,
        status_message=f"Shot 2 failed: {REASON}",
    )
    shots = [
        Shot.objects.create(sequence=sequence, position=i, prompt=p, duration=5, first_frame="none")
        for i, p in enumerate(["Door", "Forbidden hall", "Garden"])
    ]
    done = Take.objects.create(shot=shots[0], user=alice, status="succeeded", cost_credits=60)
    Shot.objects.filter(pk=shots[0].pk).update(chosen_take=done)
    Take.objects.create(
        shot=shots[1], user=alice, status="failed", failure_code="SAFETY.INPUT.TEXT", failure_message=REASON
    )
    Take.objects.create(shot=shots[2], user=alice, status="cancelled", failure_message="Not generated.")
    return sequence


def shot(sequence, number: int) -> Shot:
    return sequence.shots.get(position=number - 1)


def test_the_page_shows_the_failed_shot_the_reason_and_the_actions(client, alice, sequence):
    client.force_login(alice)
    response = client.get(reverse("sequence_detail", args=[sequence.pk]))
    text = response.text
    second = shot(sequence, 2)
    assert "Needs attention" in text
    assert "This sequence stopped and needs your attention." in text
    assert "<strong>Shot 2</strong>: " + escape(REASON) in text
    assert f'href="?edit={second.pk}#shot-{second.pk}">Edit shot 2</a>' in text
    assert f'action="{reverse("retake_shot", args=[second.pk])}"' in text
    assert "Retake shot 2…" in text
    assert f'action="{reverse("cancel_sequence", args=[sequence.pk])}"' in text
    assert "Stop this sequence…" in text
    # Generating again makes only shots 2 and 3.
    assert "Estimate: 120 credits" in text
    assert "1 shot keeps its finished take and costs nothing." in text


def test_the_progress_fragment_shows_the_attention_state_and_stops_polling(client, alice, sequence):
    client.force_login(alice)
    response = client.get(reverse("sequence_progress", args=[sequence.pk]))
    assert 'data-final="true"' in response.text
    assert "This sequence stopped and needs your attention." in response.text


def test_viewers_see_the_state_but_no_actions(client, bob, sequence):
    client.force_login(bob)
    text = client.get(reverse("sequence_detail", args=[sequence.pk])).text
    assert "This sequence stopped and needs your attention." in text
    assert "Retake shot 2…" not in text
    assert "Stop this sequence…" not in text


def test_the_failed_shot_can_be_edited(client, alice, sequence):
    client.force_login(alice)
    second = shot(sequence, 2)
    form = client.get(reverse("sequence_detail", args=[sequence.pk]), {"edit": second.pk})
    assert f'action="{reverse("edit_shot", args=[second.pk])}"' in form.text

    response = client.post(
        reverse("edit_shot", args=[second.pk]),
        versioned({"prompt": "Bright hall", "duration": 5, "first_frame": "none"}, second),
    )

    assert response["Location"].endswith(f"#shot-{second.pk}")
    second.refresh_from_db()
    assert second.prompt == "Bright hall"


def test_a_retake_asks_first_with_the_cost_of_every_later_shot(client, alice, sequence):
    client.force_login(alice)
    response = client.post(reverse("retake_shot", args=[shot(sequence, 2).pk]))

    assert response.status_code == 200
    assert "Retake shot 2?" in response.text
    assert "The shots after it have no finished take" in response.text
    assert "This reserves <strong>120 credits</strong>" in response.text
    assert "<strong>880</strong> would remain" in response.text
    assert 'name="credits" value="120"' in response.text
    assert Take.objects.count() == 3
    assert not LedgerEntry.objects.exists()


def test_a_confirmed_retake_holds_the_shot_and_every_later_shot_and_reopens(client, alice, sequence):
    client.force_login(alice)
    second, third = shot(sequence, 2), shot(sequence, 3)
    response = client.post(reverse("retake_shot", args=[second.pk]), {"confirm": "yes", "credits": "120"})

    assert response["Location"].endswith(f"#progress-shot-{second.pk}")
    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.RUNNING
    assert sequence.status_message == ""
    queued = Take.objects.filter(status="queued")
    assert sorted(queued.values_list("shot_id", flat=True)) == [second.pk, third.pk]
    holds = LedgerEntry.objects.filter(user=alice).order_by("pk")
    assert [(e.kind, e.credits, e.take.shot_id) for e in holds] == [
        ("hold", 60, second.pk),
        ("hold", 60, third.pk),
    ]


def test_a_retake_without_credits_for_every_later_shot_holds_nothing(client, alice, sequence):
    credits.set_monthly_limit(alice, credits=100)
    client.force_login(alice)
    url = reverse("retake_shot", args=[shot(sequence, 2).pk])
    page = client.post(url)
    assert "This needs 120 credits but only 100 are left this month" in page.text

    response = client.post(url, {"confirm": "yes", "credits": "120"}, follow=True)

    assert "This needs 120 credits but only 100 are left this month" in response.text
    assert Take.objects.count() == 3
    assert not LedgerEntry.objects.exists()
    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.NEEDS_ATTENTION


def test_a_retake_confirmed_for_another_amount_asks_again(client, alice, sequence):
    client.force_login(alice)
    response = client.post(
        reverse("retake_shot", args=[shot(sequence, 2).pk]), {"confirm": "yes", "credits": "60"}
    )

    assert response.status_code == 200
    assert "The estimate is now 120 credits" in response.text
    assert Take.objects.count() == 3
    assert not LedgerEntry.objects.exists()


def test_generate_again_confirms_and_holds_only_the_unfinished_shots(client, alice, sequence):
    client.force_login(alice)
    url = reverse("start_sequence", args=[sequence.pk])
    page = client.get(url)
    assert "Shot 1 keeps its finished take and costs nothing." in page.text
    assert "This reserves <strong>120 credits</strong>" in page.text
    assert "Door" not in page.text

    client.post(url, {"credits": "120"})

    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.RUNNING
    holds = LedgerEntry.objects.filter(user=alice, kind="hold")
    assert sorted((e.credits, e.take.shot.position) for e in holds) == [(60, 1), (60, 2)]
    assert shot(sequence, 1).takes.count() == 1


def test_generate_again_with_every_shot_finished_only_assembles(client, alice, sequence):
    for number in (2, 3):
        take = Take.objects.create(
            shot=shot(sequence, number), user=alice, status="succeeded", cost_credits=60
        )
        Shot.objects.filter(pk=take.shot_id).update(chosen_take=take)
    client.force_login(alice)
    url = reverse("start_sequence", args=[sequence.pk])
    page = client.get(url)
    assert "this only assembles the film again" in page.text
    assert "Assemble the film" in page.text

    response = client.post(url, {"credits": "0"}, follow=True)

    assert "Assembling “Tour” from the chosen takes." in response.text
    assert not LedgerEntry.objects.exists()


def test_a_sequence_that_needs_attention_can_be_stopped(client, alice, sequence):
    client.force_login(alice)
    url = reverse("cancel_sequence", args=[sequence.pk])
    assert "Stop generating “Tour”?" in client.post(url).text

    client.post(url, {"confirm": "yes"})

    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.CANCELLED


def test_it_redirects_anonymous_users_to_login(client, sequence):
    assert reverse("login") in client.post(reverse("retake_shot", args=[shot(sequence, 2).pk]))["Location"]


def test_outsiders_get_404(client, carol, sequence):
    client.force_login(carol)
    assert client.post(reverse("retake_shot", args=[shot(sequence, 2).pk])).status_code == 404
    assert client.post(reverse("cancel_sequence", args=[sequence.pk])).status_code == 404


def test_viewers_get_403(client, bob, sequence):
    client.force_login(bob)
    second = shot(sequence, 2)
    assert client.post(reverse("retake_shot", args=[second.pk]), {"confirm": "yes"}).status_code == 403
    assert client.post(reverse("cancel_sequence", args=[sequence.pk]), {"confirm": "yes"}).status_code == 403
    assert Take.objects.count() == 3
    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.NEEDS_ATTENTION


def test_actions_refuse_get(client, alice, sequence):
    client.force_login(alice)
    assert client.get(reverse("retake_shot", args=[shot(sequence, 2).pk])).status_code == 405
    assert client.get(reverse("cancel_sequence", args=[sequence.pk])).status_code == 405
