"""Every sequence assembled before versions existed gets its film as version 1."""

from django.db import migrations


def first_versions(apps, schema_editor):
    Sequence = apps.get_model("projects", "Sequence")
    FilmVersion = apps.get_model("projects", "FilmVersion")
    without = Sequence.objects.exclude(film="").filter(versions__isnull=True)
    for sequence in without.iterator():
        FilmVersion.objects.create(
            sequence=sequence,
            number=1,
            film=sequence.film.name,
            poster=sequence.poster.name,
            duration=sequence.film_duration,
            created_at=sequence.finished_at or sequence.created_at,
        )


class Migration(migrations.Migration):
    dependencies = [("projects", "0005_keyframes_versions_review")]

    operations = [migrations.RunPython(first_versions, migrations.RunPython.noop)]
