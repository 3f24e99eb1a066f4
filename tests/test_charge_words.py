"""What a run charged, holds and returned reads the same on the sequence page, the usage page and
the command line: one wording (`pipeline.charges_words`), checked on a real run against the
simulator."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse

from generation import pipeline
from projects.models import Sequence

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_words_name_each_figure_of_a_run():
    words = pipeline.charges_words
    assert words(pipeline.Charges()) == "Nothing charged"
    assert words(pipeline.Charges(charged=1)) == "Runway charged 1 credit"
    assert (
        words(pipeline.Charges(charged=40, held=50, released=10))
        == "Runway charged 40 credits; 50 held for work in progress; 10 returned"
    )
    assert words(pipeline.Charges(held=30, unconfirmed=20, released=5)) == (
        "Nothing charged; 10 held for work in progress; 20 credits stay held until an admin confirms "
        "with Runway whether they were charged; 5 returned"
    )


def test_a_cancel_says_it_in_the_same_words():
    result = pipeline.CancelResult(charged=40, released=10)
    assert str(result) == "Generation cancelled. Runway charged 40 credits; 10 returned."
    held = pipeline.CancelResult(what="Assembly", still_held=10, unconfirmed=10)
    assert str(held).startswith(
        "Assembly cancelled. Nothing charged; 10 credits stay held until an admin confirms with Runway"
    )


def test_the_page_the_usage_page_and_the_command_line_word_a_run_alike(
    client, settings, boss, runway, tmp_path, capsys
):
    settings.RUNWAY_SIMULATED = False  # the test simulator stands in for Runway "with a key"
    settings.RUNWAY_POLL_INTERVAL = 0.2
    call_command(
        "image2video",
        "--backend",
        "runway",
        "--yes",
        "--model",
        "veo3.1_fast",
        "--output-dir",
        str(tmp_path),
        "Cinematic shot of ocean waves",
    )
    out = capsys.readouterr().out
    sequence = Sequence.objects.get()
    words = pipeline.run_charges(sequence).words
    assert words == "Runway charged 90 credits"  # the figure itself, from the ledger
    assert f"Done: {words} (estimate 90)." in out

    client.force_login(boss)
    page = client.get(reverse("sequence_detail", args=[sequence.pk])).text
    assert f'<span class="small" data-run-charges>This run: {words}.</span>' in page
    usage = client.get(reverse("usage")).text
    assert f"<span data-run-charges>{words}.</span>" in usage
