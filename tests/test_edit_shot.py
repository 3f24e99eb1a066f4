import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from generation import credits, pipeline
from generation.models import Take
from projects.models import Sequence, Shot
from tests.helpers import versioned

pytestmark = pytest.mark.django_db


@pytest.fixture
def shot(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", model="gen4.5", created_by=alice)
    return Shot.objects.create(sequence=sequence, prompt="Hall", duration=5, first_frame="none")


def url(shot):
    return reverse("edit_shot", args=[shot.pk])


def test_editors_change_a_shot(client, alice, shot):
    client.force_login(alice)
    response = client.post(
        url(shot),
        versioned({"prompt": "Grand hall", "duration": 10, "seed": 42, "first_frame": "previous"}, shot),
    )
    assert response["Location"].endswith(f"#shot-{shot.pk}")
    shot.refresh_from_db()
    assert (shot.prompt, shot.duration, shot.seed, shot.first_frame) == ("Grand hall", 10, 42, "previous")


def test_invalid_input_reopens_the_form_and_changes_nothing(client, alice, shot):
    client.force_login(alice)
    response = client.post(
        url(shot), versioned({"prompt": "Grand hall", "duration": 5, "seed": -1, "first_frame": "none"}, shot)
    )
    assert response.status_code == 200
    assert response.context["shot_rows"][0]["form"].errors["seed"]
    shot.refresh_from_db()
    assert (shot.prompt, shot.seed) == ("Hall", None)


def test_it_refuses_while_generating(client, alice, shot):
    Sequence.objects.filter(pk=shot.sequence_id).update(status="assembling")
    client.force_login(alice)
    response = client.post(
        url(shot), versioned({"prompt": "Grand hall", "duration": 5, "first_frame": "none"}, shot)
    )
    shot.refresh_from_db()
    assert shot.prompt == "Hall"
    # Nothing typed is lost: the page says why and keeps the new prompt to copy.
    assert response.status_code == 409
    assert "Not saved" in response.text
    assert "Grand hall" in response.text


def test_it_redirects_anonymous_users_to_login(client, shot):
    assert reverse("login") in client.post(url(shot), versioned({"prompt": "x"}, shot))["Location"]


def test_outsiders_get_404(client, carol, shot):
    client.force_login(carol)
    assert (
        client.post(
            url(shot), versioned({"prompt": "x", "duration": 5, "first_frame": "none"}, shot)
        ).status_code
        == 404
    )


def test_viewers_get_403(client, bob, shot):
    client.force_login(bob)
    assert (
        client.post(
            url(shot), versioned({"prompt": "x", "duration": 5, "first_frame": "none"}, shot)
        ).status_code
        == 403
    )
    shot.refresh_from_db()
    assert shot.prompt == "Hall"


def test_it_refuses_get(client, alice, shot):
    client.force_login(alice)
    assert client.get(url(shot)).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_an_edit_racing_a_start_never_leaves_a_take_made_from_other_words(project, alice):
    """An edit and a start released at once, many times: the edit lands before the start (whose
    take then carries the new prompt) or is refused; a take never differs from its shot."""
    credits.set_monthly_limit(alice, credits=1_000_000)
    for round_number in range(25):
        sequence = Sequence.objects.create(
            project=project, title=f"Race {round_number}", model="gen4.5", created_by=alice
        )
        shot = Shot.objects.create(sequence=sequence, prompt="Hall", duration=5, first_frame="none")
        client = Client()
        client.force_login(alice)
        gate = threading.Barrier(2)
        errors = []

        def start(sequence=sequence, gate=gate, errors=errors) -> None:
            try:
                gate.wait()
                pipeline.start_sequence(sequence, user=alice)
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
            finally:
                connection.close()

        def edit(client=client, shot=shot, gate=gate, errors=errors) -> None:
            try:
                gate.wait()
                client.post(
                    url(shot), versioned({"prompt": "Grand hall", "duration": 5, "first_frame": "none"}, shot)
                )
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=start), threading.Thread(target=edit)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        shot.refresh_from_db()
        take = Take.objects.get(shot=shot)
        assert take.request["promptText"] == shot.prompt, f"round {round_number}"


def test_editing_a_finished_shot_marks_it_stale_so_generate_again_remakes_it(client, alice, shot):
    take = Take.objects.create(shot=shot, user=alice, status="succeeded", estimated_credits=60)
    Shot.objects.filter(pk=shot.pk).update(chosen_take=take)
    Sequence.objects.filter(pk=shot.sequence_id).update(status="done")
    client.force_login(alice)

    unchanged = {"prompt": "Hall", "duration": 5, "first_frame": "none"}
    client.post(url(shot), versioned(unchanged, shot))
    shot.refresh_from_db()
    assert not shot.is_stale

    client.post(url(shot), versioned({**unchanged, "prompt": "Grand hall"}, shot))
    shot.refresh_from_db()
    assert shot.is_stale
    assert [e.shot for e in pipeline.estimate_generation(shot.sequence).shots] == [shot]
