import hashlib

from django.db import migrations, models


def fill_missing_digests(apps, schema_editor):
    # Rows always got a digest on save; this covers any written around that path before the
    # plain token goes. Afterwards those links still work, but nobody can be shown them again.
    ShareLink = apps.get_model("projects", "ShareLink")
    for link in ShareLink.objects.filter(token_digest=""):
        link.token_digest = hashlib.sha256(link.token.encode()).hexdigest()
        link.save(update_fields=["token_digest"])


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0003_runway_origin"),
    ]

    operations = [
        migrations.RunPython(fill_missing_digests, migrations.RunPython.noop),
        migrations.RemoveField(model_name="sharelink", name="token"),
        migrations.AddField(
            model_name="sharelink",
            name="play_count",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
    ]
