"""projects.services: the rules the views and the command line call."""

import pytest

from projects import services
from projects.models import Membership, Project, Sequence, Shot


def test_create_project_makes_the_owner_a_member(alice):
    project = services.create_project(name="Villa", owner=alice)
    assert (project.name, project.description, project.created_by) == ("Villa", "", alice)
    assert list(project.memberships.values_list("user__username", "role")) == [("alice", "owner")]


def test_the_last_owner_can_be_neither_demoted_nor_removed(project, alice):
    owner = Membership.objects.get(project=project, user=alice)
    with pytest.raises(services.LastOwner, match="at least one owner"):
        services.change_role(owner, role=Membership.Role.VIEWER)
    with pytest.raises(services.LastOwner):
        services.remove_member(owner)
    owner.refresh_from_db()
    assert owner.role == Membership.Role.OWNER


def test_moving_a_shot_past_either_end_changes_nothing(project, alice):
    sequence = Sequence.objects.create(project=project, title="T", created_by=alice)
    first, second = (Shot.objects.create(sequence=sequence, position=i, prompt=str(i)) for i in range(2))
    assert services.move_shot(second, direction="up")
    assert not services.move_shot(second, direction="up")
    assert [s.pk for s in sequence.shots.order_by("position")] == [second.pk, first.pk]


def test_a_generating_sequence_refuses_shot_changes(project, alice):
    sequence = Sequence.objects.create(project=project, title="T", created_by=alice, status="running")
    shot = Shot.objects.create(sequence=sequence, position=0, prompt="a")
    with pytest.raises(services.SequenceIsGenerating):
        services.move_shot(shot, direction="down")
    with pytest.raises(services.SequenceIsGenerating):
        services.delete_shot(shot)
    assert Shot.objects.filter(pk=shot.pk).exists()


def test_a_share_link_needs_a_finished_film(project, alice):
    sequence = Sequence.objects.create(project=project, title="T", created_by=alice, status="done")
    with pytest.raises(services.NotShareable):
        services.issue_share_link(sequence, created_by=alice, expires_in_days=None)
    assert not sequence.share_links.exists()


def test_projects_are_visible_to_their_members_only(project, alice, carol):
    assert Project.objects.visible_to(alice).get().my_role == "owner"
    assert not Project.objects.visible_to(carol).exists()
