"""Migrations 0013-0015 of generation give every existing take its kind and its sequence from what
it was made for, and undo cleanly."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("generation", "0012_audit_entries"), ("projects", "0014_film_version_captions")]
AFTER = [("generation", "0015_take_kind_constraints")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_takes_get_their_kind_and_sequence_and_the_migration_undoes():
    apps = _migrate(BEFORE)
    User = apps.get_model("auth", "User")
    Project = apps.get_model("projects", "Project")
    Sequence = apps.get_model("projects", "Sequence")
    Shot = apps.get_model("projects", "Shot")
    Keyframe = apps.get_model("projects", "Keyframe")
    FilmVersion = apps.get_model("projects", "FilmVersion")
    Take = apps.get_model("generation", "Take")
    user = User.objects.create(username="mig")
    project = Project.objects.create(name="P", created_by=user)
    sequence = Sequence.objects.create(project=project, title="S", created_by=user)
    shot = Shot.objects.create(sequence=sequence, position=0, prompt="A hall")
    keyframe = Keyframe.objects.create(shot=shot, slot="first", prompt="@hall")
    version = FilmVersion.objects.create(sequence=sequence, number=1, film="f.mp4")
    made = {
        "clip": Take.objects.create(shot=shot, user=user).pk,
        "keyframe": Take.objects.create(shot=shot, keyframe=keyframe, user=user, endpoint="text_to_image").pk,
        "narration": Take.objects.create(sequence=sequence, user=user, endpoint="text_to_speech").pk,
        "master_part": Take.objects.create(
            sequence=sequence, version=version, user=user, endpoint="video_upscale"
        ).pk,
    }

    Take = _migrate(AFTER).get_model("generation", "Take")
    rows = {pk: (kind, seq) for pk, kind, seq in Take.objects.values_list("pk", "kind", "sequence_id")}
    assert rows == {pk: (kind, sequence.pk) for kind, pk in made.items()}

    Take = _migrate(BEFORE).get_model("generation", "Take")
    assert Take.objects.get(pk=made["clip"]).sequence_id is None  # a shot's take had no sequence
    assert Take.objects.get(pk=made["narration"]).sequence_id == sequence.pk
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
