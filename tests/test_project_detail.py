import pytest
from django.urls import reverse

from generation.models import Take
from projects.models import Keyframe, Membership, Project, ReferenceSet, Sequence, Shot

pytestmark = pytest.mark.django_db


def url(project):
    return reverse("project_detail", args=[project.pk])


def test_members_see_sets_sequences_and_members(client, bob, project):
    ReferenceSet.objects.create(project=project, name="Ground floor")
    Sequence.objects.create(project=project, title="Tour", created_by=project.created_by)
    client.force_login(bob)
    response = client.get(url(project))
    assert response.status_code == 200
    assert "Ground floor" in response.text
    assert "Tour" in response.text
    assert "alice" in response.text
    assert "Viewer" in response.text


def test_viewers_get_no_editing_forms(client, bob, project):
    client.force_login(bob)
    response = client.get(url(project))
    assert reverse("create_sequence", args=[project.pk]) not in response.text
    assert reverse("add_member", args=[project.pk]) not in response.text


def test_owners_get_member_management(client, alice, project):
    client.force_login(alice)
    response = client.get(url(project))
    assert reverse("add_member", args=[project.pk]) in response.text
    assert reverse("create_sequence", args=[project.pk]) in response.text


def test_it_redirects_anonymous_users_to_login(client, project):
    response = client.get(url(project))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_outsiders_get_404(client, carol, project):
    client.force_login(carol)
    assert client.get(url(project)).status_code == 404


def test_the_name_and_description_are_escaped(client, alice):
    project = Project.objects.create(
        name="<script>alert(1)</script>", description="<b>bold</b>", created_by=alice
    )
    Membership.objects.create(project=project, user=alice, role="owner")
    client.force_login(alice)
    response = client.get(url(project))
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "<b>bold</b>" not in response.text


def test_its_query_count_does_not_grow_with_sequences(client, alice, project, django_assert_max_num_queries):
    client.force_login(alice)
    for i in range(15):
        Sequence.objects.create(project=project, title=f"S{i}", created_by=alice)
        ReferenceSet.objects.create(project=project, name=f"R{i}")
    with django_assert_max_num_queries(12):
        assert client.get(url(project)).status_code == 200


def test_a_sequences_cost_counts_its_clips_images_narrations_and_master_parts(client, alice, project):
    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice)
    shot = Shot.objects.create(sequence=sequence, prompt="Hall", duration=5, first_frame="none")
    keyframe = Keyframe.objects.create(shot=shot, prompt="A hall")
    for fields in (
        {"shot": shot, "cost_credits": 50},
        {"shot": shot, "keyframe": keyframe, "endpoint": "text_to_image", "cost_credits": 5},
        {"sequence": sequence, "endpoint": "text_to_speech", "cost_credits": 3},
        {"sequence": sequence, "endpoint": "video_upscale", "cost_credits": 2},
    ):
        Take.objects.create(user=alice, status=Take.Status.SUCCEEDED, **fields)
    row = Sequence.objects.filter(pk=sequence.pk).with_totals().get()
    assert (row.shot_count, row.cost) == (1, 60)
