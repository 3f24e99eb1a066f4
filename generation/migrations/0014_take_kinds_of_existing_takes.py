"""Existing takes get their kind and sequence from what they were made for (see 0013)."""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def name_kinds(apps, schema_editor):
    Take = apps.get_model("generation", "Take")
    Shot = apps.get_model("projects", "Shot")
    Take.objects.filter(keyframe__isnull=False).update(kind="keyframe")
    Take.objects.filter(shot__isnull=False, keyframe__isnull=True).update(kind="clip")
    Take.objects.filter(shot__isnull=True, version__isnull=False).update(kind="master_part")
    Take.objects.filter(shot__isnull=True, version__isnull=True).update(kind="narration")
    Take.objects.filter(shot__isnull=False).update(
        sequence_id=Subquery(Shot.objects.filter(pk=OuterRef("shot_id")).values("sequence_id")[:1])
    )


def forget_sequences_of_shot_takes(apps, schema_editor):
    Take = apps.get_model("generation", "Take")
    Take.objects.filter(shot__isnull=False).update(sequence=None)


class Migration(migrations.Migration):
    dependencies = [("generation", "0013_take_kind")]

    operations = [migrations.RunPython(name_kinds, forget_sequences_of_shot_takes)]
