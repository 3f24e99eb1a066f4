import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from generation.models import Take
from projects.models import Sequence, Shot

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Tour", model="gen4.5", created_by=alice, status="running"
    )
    shot = Shot.objects.create(sequence=sequence, prompt="Hall", first_frame="none")
    Take.objects.create(shot=shot, user=alice, status="running", progress=0.42, estimated_credits=60)
    return sequence


def url(sequence):
    return reverse("sequence_progress", args=[sequence.pk])


def test_it_returns_the_fragment_with_progress(client, bob, sequence):
    client.force_login(bob)
    response = client.get(url(sequence))
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'data-final="false"' in response.text
    assert 'value="42"' in response.text
    assert response["Cache-Control"] == "no-store"


def test_a_final_sequence_tells_the_poller_to_stop(client, alice, sequence):
    Sequence.objects.filter(pk=sequence.pk).update(status="done")
    client.force_login(alice)
    assert 'data-final="true"' in client.get(url(sequence)).text


def test_failures_are_in_plain_words(client, alice, sequence):
    shot = sequence.shots.get()
    Take.objects.create(
        shot=shot, user=alice, status="failed", failure_code="SAFETY.INPUT.TEXT", failure_message=""
    )
    client.force_login(alice)
    text = client.get(url(sequence)).text
    assert "moderation rejected the prompt" in text
    assert "No credits were charged" in text


def test_finished_takes_get_a_player(client, alice, sequence):
    take = Take.objects.get()
    take.status = "succeeded"
    take.output.save("clip.mp4", ContentFile(b"\0" * 100), save=True)
    client.force_login(alice)
    assert reverse("take_video", args=[take.pk]) in client.get(url(sequence)).text


def test_viewers_get_no_cancel_button(client, bob, alice, sequence):
    client.force_login(bob)
    assert reverse("cancel_sequence", args=[sequence.pk]) not in client.get(url(sequence)).text
    client.force_login(alice)
    assert reverse("cancel_sequence", args=[sequence.pk]) in client.get(url(sequence)).text


def test_it_redirects_anonymous_users_to_login(client, sequence):
    assert reverse("login") in client.get(url(sequence))["Location"]


def test_outsiders_get_404(client, carol, sequence):
    client.force_login(carol)
    assert client.get(url(sequence)).status_code == 404


def test_its_query_count_does_not_grow_with_shots(client, alice, sequence, django_assert_max_num_queries):
    client.force_login(alice)
    with django_assert_max_num_queries(20) as few:
        client.get(url(sequence))
    for i in range(10):
        shot = Shot.objects.create(sequence=sequence, position=i + 1, prompt=f"p{i}", first_frame="none")
        Take.objects.create(shot=shot, user=alice, status="running", progress=0.1)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url(sequence))
