"""generation/captions.py: cues drafted from a version's narration, checked, saved with a version,
written as WebVTT and SRT, and burned into the film by real ffmpeg (frames compared with Pillow)."""

from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageChops, ImageStat

from generation import captions, catalog, media
from generation.captions import CaptionError, Cue
from generation.models import Take
from generation.simulator.render import render_clip, render_speech
from projects.models import FilmVersion, Sequence
from projects.services import EditConflict

SCRIPT = "Morning light on the harbour. [pause] The boats go out before the town wakes, one by one!"


@pytest.fixture
def version(project, alice, tmp_path) -> FilmVersion:
    return narrated_version(project, alice, tmp_path)


def narrated_version(project, alice, tmp_path) -> FilmVersion:
    """A 2 s 320x180 film with sound, and its narration (1.8 s of speech saying SCRIPT)."""
    sequence = Sequence.objects.create(project=project, title="Harbour", created_by=alice, status="done")
    film = render_clip(
        out=tmp_path / "film.mp4",
        width=320,
        height=180,
        duration=2,
        first_image=None,
        last_image=None,
        text="",
        with_audio=True,
    )
    narration = Take.objects.create(
        sequence=sequence,
        user=alice,
        endpoint=catalog.TEXT_TO_SPEECH,
        status=Take.Status.SUCCEEDED,
        request={"model": "eleven_multilingual_v2", "promptText": SCRIPT},
        estimated_credits=1,
    )
    speech = render_speech(out=tmp_path / "voice.mp3", duration=1.8)
    narration.output.save("voice.mp3", ContentFile(speech.read_bytes()))
    version = FilmVersion.objects.create(sequence=sequence, number=1, duration=2.0, narration=narration)
    version.film.save("film.mp4", ContentFile(film.read_bytes()))
    return version


def test_cues_are_sentences_timed_in_proportion_to_their_characters():
    cues = captions.draft_cues("One two. Three four five six!", speech_seconds=3.0)
    assert [c.text for c in cues] == ["One two.", "Three four five six!"]
    first, second = len("One two."), len("Three four five six!")
    assert cues[0].start == 0
    assert cues[1].end == 3.0
    assert cues[0].end == cues[1].start == round(3.0 * first / (first + second), 3)


def test_speech_tags_are_left_out_and_long_sentences_are_cut_into_two_line_cues():
    long = "We sail at dawn, " + " ".join(["across the quiet water"] * 8) + "."
    texts = captions.split_cue_texts(f"[whispers] Hello. {long}")
    assert texts[0] == "Hello."
    assert all(len(t) <= captions.CUE_MAX_CHARACTERS for t in texts)
    assert " ".join(texts[1:]) == long


def test_cues_stop_at_the_end_of_the_film():
    cues = captions.draft_cues("A. B. C. D.", speech_seconds=4.0, film_seconds=2.5)
    assert [c.text for c in cues] == ["A.", "B.", "C."]
    assert cues[-1].end == 2.5


def test_the_draft_times_the_narrations_script_over_its_measured_length(version):
    cues = captions.draft_for_version(version)
    assert [c.text for c in cues] == [
        "Morning light on the harbour.",
        "The boats go out before the town wakes, one by one!",
    ]
    measured = media.probe_audio(version.narration.output.path).duration
    assert abs(measured - 1.8) < 0.1
    assert cues[-1].end == round(measured, 3)


def test_webvtt_and_srt_write_the_same_cues():
    cues = [Cue(0.5, 1.25, "Fish & chips <hot>"), Cue(61.0, 62.004, "Two\nlines")]
    assert captions.to_webvtt(cues) == (
        "WEBVTT\n\n1\n00:00:00.500 --> 00:00:01.250\nFish &amp; chips &lt;hot&gt;\n\n"
        "2\n00:01:01.000 --> 00:01:02.004\nTwo\nlines\n"
    )
    assert captions.to_srt(cues) == (
        "1\n00:00:00,500 --> 00:00:01,250\nFish & chips <hot>\n\n2\n00:01:01,000 --> 00:01:02,004\nTwo\nlines\n"
    )


@pytest.mark.parametrize(
    ("cues", "message"),
    [
        ([Cue(0, 1, "a"), Cue(0.5, 1.5, "b")], "Cue 2 starts before cue 1 ends"),
        ([Cue(0, 2.5, "a")], "after the film"),
        ([Cue(1, 1.1, "a")], "at least 0.2 s"),
        ([Cue(0, 1, "x" * 85)], "85 characters"),
        ([Cue(0, 1, "  ")], "no text"),
    ],
)
def test_cues_that_cannot_be_shown_are_refused(cues, message):
    with pytest.raises(CaptionError, match=message):
        captions.check_cues(cues, film_seconds=2.0)


@pytest.mark.django_db
def test_saving_carries_the_version_and_refuses_a_stale_one(version):
    captions.save_captions(version, seen_version=0, cues=[Cue(0, 1, "Hello.")])
    version.refresh_from_db()
    assert (version.captions, version.captions_version) == ([{"start": 0, "end": 1, "text": "Hello."}], 1)
    with pytest.raises(EditConflict):
        captions.save_captions(version, seen_version=0, cues=[Cue(0, 1, "Other.")])
    with pytest.raises(CaptionError):
        captions.save_captions(version, seen_version=1, cues=[Cue(0, 3, "Too long.")])
    version.refresh_from_db()
    assert (version.captions[0]["text"], version.captions_version) == ("Hello.", 1)


def _frame(path: Path, at: float, out: Path) -> Image.Image:
    media._run(["-y", "-ss", f"{at}", "-i", str(path), "-frames:v", "1", str(out)], timeout=30, what="frame")
    return Image.open(out).convert("L")


def _mean(image: Image.Image) -> float:
    return ImageStat.Stat(image).mean[0]


@pytest.mark.django_db
def test_burned_captions_change_the_picture_only_in_the_caption_area(version, tmp_path):
    captions.save_captions(version, seen_version=0, cues=[Cue(0.2, 1.8, "Morning light on the harbour.")])
    name = captions.burn_captions(version)
    assert captions.burned_film(version) == name
    assert captions.burn_captions(version) == name  # made once
    burned = Path(default_storage.path(name))
    info, clean = media.probe(burned), media.probe(version.film.path)
    assert (info.width, info.height, info.has_audio) == (clean.width, clean.height, True)
    assert abs(info.duration - clean.duration) < 0.05

    left, top, right, bottom = captions.caption_area(info.width, info.height)
    for at, has_caption in ((1.0, True), (1.95, False)):
        difference = ImageChops.difference(
            _frame(burned, at, tmp_path / f"b{at}.png"),
            _frame(Path(version.film.path), at, tmp_path / f"c{at}.png"),
        )
        inside = difference.crop((left, top, right, bottom))
        outside = difference.copy()
        outside.paste(0, (left, top, right, bottom))
        outside_mean = (
            _mean(outside)
            * (info.width * info.height)
            / (info.width * info.height - (right - left) * (bottom - top))
        )
        assert outside_mean < 1.5, f"outside the caption area at {at} s"
        if has_caption:
            assert _mean(inside) > 8, "the caption is drawn"
        else:
            assert _mean(inside) < 1.5, "no caption after its cue"


@pytest.mark.django_db
def test_nothing_is_burned_without_saved_captions(version):
    with pytest.raises(CaptionError, match="Save the captions first"):
        captions.burn_captions(version)
