import pytest
from django.urls import reverse

from projects.models import Sequence, Shot

pytestmark = pytest.mark.django_db


@pytest.fixture
def shots(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", model="gen4.5", created_by=alice)
    # Equal positions, as rows made elsewhere may have: moving renumbers them.
    return [Shot.objects.create(sequence=sequence, prompt=p, position=0, first_frame="none") for p in "abc"]


def order(shots):
    return "".join(shots[0].sequence.shots.order_by("position", "pk").values_list("prompt", flat=True))


def url(shot):
    return reverse("move_shot", args=[shot.pk])


def test_it_moves_a_shot_up_and_down(client, alice, shots):
    client.force_login(alice)
    client.post(url(shots[2]), {"direction": "up"})
    assert order(shots) == "acb"
    client.post(url(shots[0]), {"direction": "down"})
    assert order(shots) == "cab"


def test_an_unknown_direction_changes_nothing(client, alice, shots):
    client.force_login(alice)
    client.post(url(shots[1]), {"direction": "left"})
    assert order(shots) == "abc"


def test_it_refuses_while_generating(client, alice, shots):
    Sequence.objects.filter(pk=shots[0].sequence_id).update(status="running")
    client.force_login(alice)
    client.post(url(shots[1]), {"direction": "up"})
    assert order(shots) == "abc"


def test_it_redirects_anonymous_users_to_login(client, shots):
    assert reverse("login") in client.post(url(shots[1]), {"direction": "up"})["Location"]


def test_outsiders_get_404(client, carol, shots):
    client.force_login(carol)
    assert client.post(url(shots[1]), {"direction": "up"}).status_code == 404


def test_viewers_get_403(client, bob, shots):
    client.force_login(bob)
    assert client.post(url(shots[1]), {"direction": "up"}).status_code == 403
    assert order(shots) == "abc"


def test_it_refuses_get(client, alice, shots):
    client.force_login(alice)
    assert client.get(url(shots[1])).status_code == 405


def test_finished_shots_whose_keyframes_change_become_stale(client, alice, project):
    from generation.models import Take

    sequence = Sequence.objects.create(
        project=project, title="Walk", model="gen4_turbo", is_stitched=True, created_by=alice
    )
    shots = []
    for position, prompt in enumerate("abcd"):
        shot = Shot.objects.create(
            sequence=sequence, prompt=prompt, position=position, first_frame="previous"
        )
        take = Take.objects.create(shot=shot, user=alice, status="succeeded")
        Shot.objects.filter(pk=shot.pk).update(chosen_take=take)
        shots.append(shot)
    client.force_login(alice)

    client.post(url(shots[2]), {"direction": "up"})  # a b c d -> a c b d

    assert order(shots) == "acbd"
    stale = set(Shot.objects.filter(is_stale=True).values_list("prompt", flat=True))
    assert stale == {"b", "c", "d"}  # each now follows another shot; a is still first


def seen(shots) -> str:
    return ",".join(
        str(pk) for pk in shots[0].sequence.shots.order_by("position", "pk").values_list("pk", flat=True)
    )


def test_a_drop_places_a_shot_and_the_others_keep_their_order(client, alice, shots):
    client.force_login(alice)
    response = client.post(url(shots[0]), {"position": "3", "order": seen(shots)})
    assert response.status_code == 302
    assert order(shots) == "bca"
    client.post(url(shots[0]), {"position": "1", "order": seen(shots)})
    assert order(shots) == "abc"


def test_the_same_drop_twice_changes_nothing_the_second_time(client, alice, shots):
    client.force_login(alice)
    client.post(url(shots[2]), {"position": "1", "order": seen(shots)})
    client.post(url(shots[2]), {"position": "1", "order": seen(shots)})
    assert order(shots) == "cab"


def test_a_drop_made_on_an_older_order_is_refused_with_both_orders(client, alice, shots):
    client.force_login(alice)
    before = seen(shots)
    client.post(url(shots[2]), {"direction": "up"})  # someone else moves c meanwhile
    response = client.post(url(shots[0]), {"position": "3", "order": before})
    assert response.status_code == 409
    assert "Order of the shots" in response.text
    assert "data-edit-conflict" in response.text
    assert order(shots) == "acb"


def test_a_malformed_drop_changes_nothing(client, alice, shots):
    client.force_login(alice)
    client.post(url(shots[0]), {"position": "x", "order": seen(shots)})
    client.post(url(shots[0]), {"position": "2", "order": "1;2"})
    assert order(shots) == "abc"


def test_a_drop_refuses_while_generating(client, alice, shots):
    Sequence.objects.filter(pk=shots[0].sequence_id).update(status="running")
    client.force_login(alice)
    response = client.post(url(shots[0]), {"position": "3", "order": seen(shots)}, follow=True)
    assert "generating" in response.text
    assert order(shots) == "abc"


def test_the_storyboard_carries_the_order_for_drops(client, alice, shots):
    client.force_login(alice)
    text = client.get(reverse("sequence_detail", args=[shots[0].sequence_id])).text
    assert f'name="order" value="{seen(shots)}"' in text
    assert f'data-move-url="{url(shots[1])}"' in text
