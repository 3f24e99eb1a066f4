"""Every take has a sequence, a first-frame source from a fixed set, and links that follow from its
kind (see 0013)."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    dependencies = [("generation", "0014_take_kinds_of_existing_takes")]

    operations = [
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
