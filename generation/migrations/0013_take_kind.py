"""Every take names its kind and its sequence: a clip or keyframe image of a shot (and of the shot's
sequence), a narration of a sequence, a part of a film version's 4K master. Existing takes get them
from what they were made for. In three migrations, so that on PostgreSQL the rows are written in a
transaction of their own before the columns are altered."""

from django.db import migrations, models


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
    ]
