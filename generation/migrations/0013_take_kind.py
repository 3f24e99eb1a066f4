"""Every take names its kind and its sequence: a clip or keyframe image of a shot (and of the shot's
sequence), a narration of a sequence, a part of a film version's 4K master. Existing takes get them
from what they were made for."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Q, Subquery


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
    dependencies = [
        ("generation", "0012_audit_entries"),
        ("projects", "0014_film_version_captions"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="take", name="take_of_a_shot_or_a_sequence"),
        migrations.AddField(
            model_name="take",
            name="kind",
            field=models.CharField(
                choices=[
                    ("clip", "Clip"),
                    ("keyframe", "Keyframe image"),
                    ("narration", "Narration"),
                    ("master_part", "4K master part"),
                ],
                db_index=True,
                default="clip",
                max_length=12,
            ),
            preserve_default=False,
        ),
        migrations.RunPython(name_kinds, forget_sequences_of_shot_takes),
        migrations.AlterField(
            model_name="take",
            name="sequence",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="takes", to="projects.sequence"
            ),
        ),
        migrations.AlterField(
            model_name="take",
            name="first_frame_from",
            field=models.CharField(
                choices=[
                    ("previous", "The last frame of the shot before"),
                    ("reference", "A reference image"),
                    ("keyframe", "The keyframe image made for the shot"),
                    ("none", "None (the prompt alone)"),
                ],
                default="none",
                max_length=10,
            ),
        ),
        migrations.AddConstraint(
            model_name="take",
            constraint=models.CheckConstraint(
                condition=Q(kind="clip", shot__isnull=False, keyframe__isnull=True, version__isnull=True)
                | Q(kind="keyframe", shot__isnull=False, keyframe__isnull=False, version__isnull=True)
                | Q(kind="narration", shot__isnull=True, keyframe__isnull=True, version__isnull=True)
                | Q(kind="master_part", shot__isnull=True, keyframe__isnull=True, version__isnull=False),
                name="take_belongs_as_its_kind_says",
            ),
        ),
    ]
