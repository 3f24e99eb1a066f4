"""`manage.py fetch_take`: the command line's way to save a paid clip whose download failed."""

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from generation import pipeline
from generation.models import LedgerEntry, Take
from tests.helpers import COLOURS, photo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("runway_with_a_key")]


def test_a_clip_lost_in_download_is_reported_and_fetched_without_paying_twice(boss, runway, tmp_path, capsys):
    image = tmp_path / "room.jpg"
    image.write_bytes(photo(COLOURS[0], 0))
    runway.fail_next("truncate_download", pipeline.MAX_DOWNLOAD_ATTEMPTS * 3)

    with pytest.raises(CommandError) as failure:
        call_command(
            "image2video", "--backend", "runway", "--model", "gen4_turbo", "--duration", "2",
            "-i", str(image), "--output-dir", str(tmp_path), "--yes", "Slow zoom",
        )  # fmt: skip
    take = Take.objects.get()
    assert "Runway charged 10 credits" in str(failure.value)
    assert f"manage.py fetch_take {take.pk}" in str(failure.value)

    call_command("fetch_take", str(take.pk), "--output-dir", str(tmp_path / "out"))

    assert "already paid: 10 credits" in capsys.readouterr().out
    assert (tmp_path / "out" / "runway_clip_1.mp4").stat().st_size > 1000
    assert LedgerEntry.objects.filter(kind="settle").aggregate(s=Sum("credits"))["s"] == 10
    assert len(runway.tasks()) == 1
    with pytest.raises(CommandError, match="no saved output"):
        call_command("fetch_take", str(take.pk))


def test_an_unknown_take_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No take 999"):
        call_command("fetch_take", "999")
