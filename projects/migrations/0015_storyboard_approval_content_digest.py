from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0014_film_version_captions"),
    ]

    operations = [
        migrations.AddField(
            model_name="storyboardapproval",
            name="content_digest",
            field=models.CharField(blank=True, max_length=64),
        ),
    ]
