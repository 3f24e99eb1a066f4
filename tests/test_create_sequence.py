import pytest
from django.urls import reverse

from projects.models import ReferenceSet, Sequence

pytestmark = pytest.mark.django_db


def url(project):
    return reverse("create_sequence", args=[project.pk])


def data(**extra):
    return {"title": "Tour", "model": "veo3.1_fast", "ratio": "1920:1080", "is_stitched": "on", **extra}


def test_editors_create_a_sequence(client, alice, project):
    reference_set = ReferenceSet.objects.create(project=project, name="Rooms")
    client.force_login(alice)
    response = client.post(url(project), data(reference_set=reference_set.pk, has_audio="on"))
    sequence = Sequence.objects.get()
    assert response["Location"] == reverse("sequence_detail", args=[sequence.pk])
    assert (sequence.model, sequence.ratio, sequence.is_stitched, sequence.has_audio) == (
        "veo3.1_fast",
        "1920:1080",
        True,
        True,
    )
    assert sequence.reference_set == reference_set
    assert sequence.created_by == alice
    assert sequence.status == "draft"


def test_a_ratio_the_model_cannot_make_is_refused_naming_what_it_can(client, alice, project):
    client.force_login(alice)
    response = client.post(url(project), data(ratio="960:960"))
    assert response.status_code == 200
    assert "Veo 3.1 Fast makes 1280×720 (landscape), 720×1280 (portrait)" in response.text
    assert not Sequence.objects.exists()


def test_the_ratio_choices_follow_the_submitted_model(client, alice, project):
    client.force_login(alice)
    response = client.post(url(project), data(ratio="960:960"))
    choices = [value for value, _ in response.context["sequence_form"].fields["ratio"].widget.choices]
    assert choices == ["1280:720", "720:1280", "1920:1080", "1080:1920"]


def test_audio_is_off_for_models_without_sound(client, alice, project):
    client.force_login(alice)
    client.post(url(project), data(model="gen4_turbo", ratio="960:960", has_audio="on"))
    assert Sequence.objects.get().has_audio is False


def test_another_projects_reference_set_is_refused(client, alice, carol, project):
    from projects.models import Project

    other = Project.objects.create(name="Other", created_by=carol)
    foreign = ReferenceSet.objects.create(project=other, name="Not yours")
    client.force_login(alice)
    response = client.post(url(project), data(reference_set=foreign.pk))
    assert response.status_code == 200
    assert not Sequence.objects.exists()


def test_it_redirects_anonymous_users_to_login(client, project):
    assert reverse("login") in client.post(url(project), data())["Location"]


def test_outsiders_get_404(client, carol, project):
    client.force_login(carol)
    assert client.post(url(project), data()).status_code == 404


def test_viewers_get_403(client, bob, project):
    client.force_login(bob)
    assert client.post(url(project), data()).status_code == 403
    assert not Sequence.objects.exists()


def test_it_refuses_get(client, alice, project):
    client.force_login(alice)
    assert client.get(url(project)).status_code == 405
