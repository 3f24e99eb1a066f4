"""The storyboard of the sequence page: takes inside their shot cards, the film's timeline, the take
frames that serve as posters and thumbnails, and comparing two takes or two versions side by side."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from generation import pipeline
from generation.models import Take
from projects.models import FilmVersion, Sequence, Shot

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def finished_take(
    shot: Shot, user, *, cost: int = 60, duration: float = 2.0, seed: int | None = None
) -> Take:
    take = Take.objects.create(
        shot=shot,
        user=user,
        status="succeeded",
        estimated_credits=cost,
        cost_credits=cost,
        duration=duration,
        request={"model": "gen4.5", "seed": seed, "promptText": shot.prompt, "duration": 2},
        first_frame_from="none",
    )
    take.output.save("clip.mp4", ContentFile(b"\0" * 10), save=False)
    take.last_frame.save("last.png", ContentFile(PNG), save=False)
    take.save()
    return take


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Tour", model="gen4.5", created_by=alice, status="done", is_stitched=True
    )
    for position in range(3):
        shot = Shot.objects.create(
            sequence=sequence,
            position=position,
            prompt=f"Room {position + 1}",
            duration=2,
            first_frame="none" if position == 0 else "previous",
        )
        take = finished_take(shot, alice, duration=2.0 + position)
        Shot.objects.filter(pk=shot.pk).update(chosen_take=take)
    return sequence


def page(client, sequence) -> str:
    response = client.get(reverse("sequence_detail", args=[sequence.pk]))
    assert response.status_code == 200
    return response.text


def test_each_card_plays_its_chosen_take_and_offers_the_others(client, alice, sequence):
    shot = sequence.shots.get(position=1)
    other = finished_take(shot, alice, seed=7)
    client.force_login(alice)
    text = page(client, sequence)
    card = text[
        text.index(f'id="shot-{shot.pk}"') : text.index(f'id="shot-{sequence.shots.get(position=2).pk}"')
    ]
    assert f'src="{reverse("take_video", args=[shot.chosen_take_id])}"' in card
    assert f'poster="{reverse("take_frame", args=[shot.chosen_take_id])}?at=last"' in card
    assert f'data-preview="{reverse("take_video", args=[other.pk])}"' in card
    assert reverse("choose_take", args=[other.pk]) in card
    assert "Compare takes" in card


def test_the_summary_shows_runtime_and_what_was_spent(client, alice, sequence):
    client.force_login(alice)
    text = page(client, sequence)
    assert "9.0 s</strong> runtime" in text  # the chosen clips: 2 + 3 + 4 s
    assert "<strong>180</strong> credits spent" in text


def test_the_films_timeline_marks_where_each_shot_starts(client, alice, sequence):
    FilmVersion.objects.create(sequence=sequence, number=1, film="films/tour.mp4", duration=9.0)
    Sequence.objects.filter(pk=sequence.pk).update(film="films/tour.mp4", film_duration=9.0)
    client.force_login(alice)
    text = page(client, sequence)
    shots = list(sequence.shots.order_by("position"))
    assert f'href="#shot-{shots[0].pk}" data-seek="0.00"' in text
    assert f'href="#shot-{shots[1].pk}" data-seek="2.00"' in text
    assert f'href="#shot-{shots[2].pk}" data-seek="5.00"' in text


def test_choosing_a_take_that_leaves_the_chain_stale_does_not_assemble_a_stale_film(alice, sequence):
    """Choosing shot 1's other take makes shots 2 and 3 stale: no film is assembled with them in it;
    the page offers to make them again, priced."""
    first = sequence.shots.get(position=0)
    other = finished_take(first, alice)
    pipeline.choose_take(other)
    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.DONE
    assert list(sequence.shots.order_by("position").values_list("is_stale", flat=True)) == [False, True, True]


def test_the_stale_chain_is_offered_as_one_priced_action(client, alice, sequence):
    Sequence.objects.filter(pk=sequence.pk).update(film="films/tour.mp4")
    pipeline.choose_take(finished_take(sequence.shots.get(position=0), alice))
    client.force_login(alice)
    text = page(client, sequence)
    assert "Regenerate shots 2, 3 · 48 credits…" in text  # gen4.5, 2 s each
    assert "The film has the old takes in it" in text


def test_a_take_frame_is_served_to_members_only(client, alice, bob, carol, sequence):
    take = sequence.shots.get(position=0).chosen_take
    client.force_login(bob)
    response = client.get(reverse("take_frame", args=[take.pk]) + "?at=last")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PNG
    assert client.get(reverse("take_frame", args=[take.pk]) + "?at=first").status_code == 404
    client.force_login(carol)
    assert client.get(reverse("take_frame", args=[take.pk])).status_code == 404


def test_two_takes_of_a_shot_are_compared_with_their_facts(client, bob, alice, sequence):
    shot = sequence.shots.get(position=0)
    other = finished_take(shot, alice, cost=40, seed=1234)
    client.force_login(bob)
    url = reverse("sequence_compare", args=[sequence.pk])
    response = client.get(url, {"a": shot.chosen_take_id, "b": other.pk})
    assert response.status_code == 200
    text = response.text
    assert "Shot 1, take 1" in text
    assert "Shot 1, take 2" in text
    assert text.count("data-compare-player") == 2
    assert "<dd>1234</dd>" in text
    assert "40 credits charged" in text
    assert "<dd>gen4.5</dd>" in text


def test_takes_of_two_shots_or_of_another_sequence_are_not_compared(client, alice, carol, sequence, project):
    one, two = (sequence.shots.get(position=n).chosen_take_id for n in (0, 1))
    client.force_login(alice)
    url = reverse("sequence_compare", args=[sequence.pk])
    assert client.get(url, {"a": one, "b": two}).status_code == 404
    assert client.get(url, {"a": one, "b": "x"}).status_code == 404
    client.force_login(carol)
    assert client.get(url, {"a": one, "b": one}).status_code == 404


def test_two_versions_are_compared(client, alice, sequence):
    for number in (1, 2):
        FilmVersion.objects.create(
            sequence=sequence, number=number, film=f"films/v{number}.mp4", duration=9.0
        )
    client.force_login(alice)
    response = client.get(reverse("sequence_compare", args=[sequence.pk]), {"va": 1, "vb": 2})
    assert response.status_code == 200
    assert "Compare Version 1 and Version 2" in response.text


def test_compare_redirects_anonymous_users_to_login(client, sequence):
    response = client.get(reverse("sequence_compare", args=[sequence.pk]))
    assert reverse("login") in response["Location"]
