import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from generation.models import Take
from projects.models import FilmVersion, Sequence, ShareLink, Shot

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", model="gen4.5", created_by=alice)
    Shot.objects.create(sequence=sequence, position=0, prompt="The hall", duration=5, first_frame="none")
    return sequence


def url(sequence):
    return reverse("sequence_detail", args=[sequence.pk])


def test_members_see_shots_and_the_estimate(client, bob, sequence):
    client.force_login(bob)
    response = client.get(url(sequence))
    assert response.status_code == 200
    assert "The hall" in response.text
    assert response.context["estimate_credits"] == 60
    assert "Estimate: 60 credits" in response.text


def test_editors_see_what_would_remain_of_their_budget(client, alice, sequence):
    client.force_login(alice)
    response = client.get(url(sequence))
    assert response.context["remaining_after"] == 940
    assert "940 would remain after generating" in response.text
    assert reverse("start_sequence", args=[sequence.pk]) in response.text


def test_viewers_get_no_editing_or_generate_controls(client, bob, sequence):
    client.force_login(bob)
    response = client.get(url(sequence))
    assert reverse("add_shot", args=[sequence.pk]) not in response.text
    assert reverse("start_sequence", args=[sequence.pk]) not in response.text


def test_per_shot_errors_and_notices_are_shown(client, alice, sequence):
    Sequence.objects.filter(pk=sequence.pk).update(model="gen4_turbo")
    Shot.objects.create(sequence=sequence, position=1, prompt="Kitchen", duration=5, first_frame="none")
    client.force_login(alice)
    response = client.get(url(sequence))
    assert "gen4_turbo needs a first-frame image" in response.text
    assert reverse("start_sequence", args=[sequence.pk]) not in response.text


def test_the_keyframe_plan_is_shown(client, alice, project):
    sequence = Sequence.objects.create(project=project, title="T", model="gen4.5", created_by=alice)
    Shot.objects.create(sequence=sequence, position=0, prompt="a", duration=5, first_frame="none")
    Shot.objects.create(sequence=sequence, position=1, prompt="b", duration=5, first_frame="previous")
    client.force_login(alice)
    response = client.get(url(sequence))
    first, second = response.context["shot_rows"]
    assert first["first"].label == "text only"
    assert second["first"].label == "last frame of shot 1"


def test_prompts_are_rendered_inert(client, alice, sequence):
    Shot.objects.filter(sequence=sequence).update(
        prompt='<script>alert("x")</script><img src=x onerror=alert(1)>'
    )
    client.force_login(alice)
    text = client.get(url(sequence)).text
    assert "<script>alert" not in text
    assert "<img src=x" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text


def test_the_runway_key_never_appears(client, alice, sequence, settings):
    settings.RUNWAY_API_KEY = "key_" + "a1" * 64
    client.force_login(alice)
    assert settings.RUNWAY_API_KEY not in client.get(url(sequence)).text


def test_share_links_are_listed_for_a_finished_film_without_their_tokens(client, alice, sequence):
    """Fails before issue 10: the list showed every link's URL, token included."""
    Sequence.objects.filter(pk=sequence.pk).update(status="done", film="films/tour.mp4")
    _, token = ShareLink.issue(sequence, created_by=alice)
    client.force_login(alice)
    text = client.get(url(sequence)).text
    assert "Link 1" in text
    assert "0 downloads · 0 plays on the page" in " ".join(text.split())
    assert "shown only once" in text
    assert token not in text


def test_viewers_do_not_see_the_share_links(client, alice, bob, sequence):
    """Fails before issue 10: viewers saw the active links' URLs."""
    Sequence.objects.filter(pk=sequence.pk).update(status="done", film="films/tour.mp4")
    ShareLink.issue(sequence, created_by=alice)
    client.force_login(bob)
    text = client.get(url(sequence)).text
    assert "Link 1" not in text
    assert "/s/" not in text
    assert "Owners and editors of this project can share the film" in text


def test_it_redirects_anonymous_users_to_login(client, sequence):
    assert reverse("login") in client.get(url(sequence))["Location"]


def test_outsiders_get_404(client, carol, sequence):
    client.force_login(carol)
    assert client.get(url(sequence)).status_code == 404


def test_its_query_count_does_not_grow_with_shots(client, alice, sequence, django_assert_max_num_queries):
    client.force_login(alice)

    def add_shots(count):
        start = sequence.shots.count()
        for i in range(count):
            shot = Shot.objects.create(
                sequence=sequence, position=start + i, prompt=f"p{i}", duration=5, first_frame="none"
            )
            take = Take.objects.create(
                shot=shot, user=alice, status="succeeded", estimated_credits=60, cost_credits=60
            )
            take.output.save("clip.mp4", ContentFile(b"\0" * 10), save=True)
            Take.objects.create(shot=shot, user=alice, status="failed", failure_code="SAFETY.INPUT.TEXT")

    Sequence.objects.filter(pk=sequence.pk).update(status="done")
    add_shots(2)
    with django_assert_max_num_queries(40) as few:
        client.get(url(sequence))
    add_shots(10)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url(sequence))


def test_only_the_shot_being_edited_renders_its_form(client, alice, project):
    sequence = Sequence.objects.create(project=project, title="Forms", created_by=alice)
    shots = [
        Shot.objects.create(sequence=sequence, position=i, prompt=f"Shot {i}", duration=5) for i in range(3)
    ]
    client.force_login(alice)
    url = reverse("sequence_detail", args=[sequence.pk])

    plain = client.get(url)
    editing = client.get(url, {"edit": shots[1].pk})

    assert [row["form"] for row in plain.context["shot_rows"]] == [None, None, None]
    assert f'href="?edit={shots[1].pk}#shot-{shots[1].pk}"' in plain.text
    forms = [row["form"] for row in editing.context["shot_rows"]]
    assert forms[0] is None
    assert forms[2] is None
    assert forms[1].instance == shots[1]
    assert f'action="{reverse("edit_shot", args=[shots[1].pk])}"' in editing.text


def test_the_film_plays_in_one_place(client, alice, sequence):
    """Before versions existed a film played in the generation panel; with versions, the Versions
    section plays it and the panel does not repeat it."""
    Sequence.objects.filter(pk=sequence.pk).update(status=Sequence.Status.DONE, film="films/tour.mp4")
    client.force_login(alice)
    assert "Final film" in client.get(url(sequence)).text
    FilmVersion.objects.create(sequence=sequence, number=1, film="films/tour.mp4")
    text = client.get(url(sequence)).text
    assert "Final film" not in text
    assert text.count("<video") == 1
