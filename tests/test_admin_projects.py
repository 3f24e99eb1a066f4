import pytest
from django.urls import reverse

from projects.models import Membership, ReferenceSet, Sequence, ShareLink, Shot

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_with_data(admin_client, alice, project):
    reference_set = ReferenceSet.objects.create(project=project, name="Rooms")
    sequence = Sequence.objects.create(
        project=project, title="Tour", created_by=alice, reference_set=reference_set
    )
    Shot.objects.create(sequence=sequence, prompt="<script>x</script>", first_frame="none")
    ShareLink.issue(sequence, created_by=alice)
    return admin_client


@pytest.mark.parametrize("model", ["project", "membership", "referenceset", "sequence", "sharelink"])
def test_the_lists_and_searches_load(admin_client_with_data, model):
    url = reverse(f"admin:projects_{model}_changelist")
    assert admin_client_with_data.get(url).status_code == 200
    assert admin_client_with_data.get(url + "?q=tour").status_code == 200


def test_a_project_shows_its_memberships_inline(admin_client_with_data, project):
    response = admin_client_with_data.get(reverse("admin:projects_project_change", args=[project.pk]))
    assert response.status_code == 200
    assert "memberships-TOTAL_FORMS" in response.text


def test_a_sequence_shows_its_shots_inline_and_escapes_prompts(admin_client_with_data):
    sequence = Sequence.objects.get()
    response = admin_client_with_data.get(reverse("admin:projects_sequence_change", args=[sequence.pk]))
    assert "shots-TOTAL_FORMS" in response.text
    assert "<script>x</script>" not in response.text


def test_share_link_counts_are_read_only_and_no_token_shows(admin_client_with_data, alice):
    link, token = ShareLink.issue(Sequence.objects.get(), created_by=alice)
    response = admin_client_with_data.get(reverse("admin:projects_sharelink_change", args=[link.pk]))
    assert 'name="download_count"' not in response.text
    assert 'name="play_count"' not in response.text
    assert "Plays" in response.text or "Play count" in response.text
    assert token not in response.text


def test_staff_without_superuser_rights_cannot_see_it(client, alice):
    alice.is_staff = True
    alice.save()
    client.force_login(alice)
    assert client.get(reverse("admin:projects_project_changelist")).status_code == 403
    assert Membership.objects.count() == 0


def test_an_admin_saving_a_sequence_while_it_assembles_keeps_the_pipelines_fields(
    admin_client_with_data,
):
    from tests.test_edit_conflicts import form_on, written_just_before_the_view_writes

    sequence = Sequence.objects.get()
    url = reverse("admin:projects_sequence_change", args=[sequence.pk])
    form = form_on(admin_client_with_data.get(url).text, None)
    form["title"] = "Tour, second cut"

    with written_just_before_the_view_writes(Sequence, sequence.pk, status="assembling", edit_version=7):
        response = admin_client_with_data.post(url, form)

    assert response.status_code == 302, response.content
    sequence.refresh_from_db()
    assert sequence.title == "Tour, second cut"
    assert sequence.status == Sequence.Status.ASSEMBLING
    # The admin's change makes a user's form opened before it stale.
    assert sequence.edit_version == 8


def test_an_admin_saving_a_shot_inline_writes_only_what_changed(admin_client_with_data):
    from tests.test_edit_conflicts import form_on, written_just_before_the_view_writes

    sequence = Sequence.objects.get()
    shot = sequence.shots.get()
    url = reverse("admin:projects_sequence_change", args=[sequence.pk])
    form = form_on(admin_client_with_data.get(url).text, None)
    form["shots-0-duration"] = "7"

    with written_just_before_the_view_writes(Shot, shot.pk, prompt="A prompt saved meanwhile"):
        response = admin_client_with_data.post(url, form)

    assert response.status_code == 302, response.content
    shot.refresh_from_db()
    assert (shot.duration, shot.prompt) == (7, "A prompt saved meanwhile")
