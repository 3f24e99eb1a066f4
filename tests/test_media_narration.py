"""generation.media's narration mix, upscale, audio probe, frame count and loudness, with real ffmpeg.

Loudness is read back with the bundled ffmpeg (volumedetect behind a band-pass filter): the
simulated clips' sound is a 220 Hz tone, the simulated voice sits at 700 Hz and 1400 Hz, so each
can be measured under the other.
"""

from __future__ import annotations

import pytest

from generation import media
from generation.simulator.render import render_clip, render_speech

BED = (220, 40)  # the film's own sound
VOICE = (700, 100)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("narration")


@pytest.fixture(scope="module")
def film_with_sound(work):
    path = work / "veo.mp4"
    render_clip(
        out=path,
        width=320,
        height=180,
        duration=4,
        first_image=None,
        last_image=None,
        text="",
        with_audio=True,
    )
    return path


@pytest.fixture(scope="module")
def silent_film(work):
    path = work / "gen4.mp4"
    render_clip(
        out=path,
        width=320,
        height=180,
        duration=4,
        first_image=None,
        last_image=None,
        text="",
        with_audio=False,
    )
    return path


@pytest.fixture(scope="module")
def narration(work):
    return render_speech(out=work / "voice.mp3", duration=2.0)


def test_the_mix_keeps_the_films_length_and_picture(film_with_sound, narration, tmp_path):
    result = media.mix_narration(film_with_sound, narration, tmp_path / "mixed.mp4")

    mixed, original = media.probe(tmp_path / "mixed.mp4"), media.probe(film_with_sound)
    assert result.duration == pytest.approx(original.duration, abs=0.05)
    assert mixed.duration == pytest.approx(4.0, abs=0.05)
    assert (mixed.width, mixed.height, mixed.fps) == (original.width, original.height, original.fps)
    assert media.count_video_frames(tmp_path / "mixed.mp4") == media.count_video_frames(film_with_sound) == 96
    assert (mixed.audio_codec, mixed.audio_sample_rate, mixed.audio_channels) == ("aac", 48000, 2)
    assert result.narration_seconds == pytest.approx(2.0, abs=0.1)
    assert result.is_film_ducked
    assert not result.is_narration_cut


@pytest.mark.parametrize("duck", ["sidechain", "fixed"])
def test_the_voice_is_heard_and_the_films_sound_is_lowered_under_it(
    film_with_sound, narration, tmp_path, duck
):
    out = tmp_path / "mixed.mp4"
    media.mix_narration(film_with_sound, narration, out, duck=duck)

    bed_before = media.measure_loudness(film_with_sound, start=0.3, duration=1.4, band=BED)
    bed_under = media.measure_loudness(out, start=0.3, duration=1.4, band=BED)
    bed_after = media.measure_loudness(out, start=2.8, duration=1.1, band=BED)
    voice_under = media.measure_loudness(out, start=0.3, duration=1.4, band=VOICE)
    voice_after = media.measure_loudness(out, start=2.8, duration=1.1, band=VOICE)

    assert voice_under > -30  # the voice is clearly there
    assert voice_after < -70  # and gone once the narration ends
    assert bed_under < bed_before - 10  # the film's sound ducks under the voice...
    assert bed_after == pytest.approx(bed_before, abs=2)  # ...and comes back after it


def test_a_silent_film_gets_the_voice_over_silence(silent_film, narration, tmp_path):
    out = tmp_path / "mixed.mp4"
    result = media.mix_narration(silent_film, narration, out)

    assert not result.is_film_ducked
    assert media.probe(out).duration == pytest.approx(4.0, abs=0.05)
    assert media.probe(out).has_audio
    assert media.measure_loudness(out, start=0.3, duration=1.4, band=VOICE) > -30
    assert media.measure_loudness(out, start=2.5, duration=1.4) < -80


def test_a_narration_longer_than_the_film_is_cut_at_the_films_end(film_with_sound, work, tmp_path):
    long_voice = render_speech(out=work / "long.mp3", duration=6.0)

    result = media.mix_narration(film_with_sound, long_voice, tmp_path / "mixed.mp4")

    assert result.is_narration_cut
    assert media.probe(tmp_path / "mixed.mp4").duration == pytest.approx(4.0, abs=0.05)


def test_mixing_twice_gives_the_same_film(film_with_sound, narration, tmp_path):
    out = tmp_path / "mixed.mp4"
    first = media.mix_narration(film_with_sound, narration, out)
    second = media.mix_narration(film_with_sound, narration, out)

    assert first == second
    assert [p.name for p in tmp_path.iterdir()] == ["mixed.mp4"]


def test_an_unknown_duck_is_refused(film_with_sound, narration, tmp_path):
    with pytest.raises(ValueError, match="duck"):
        media.mix_narration(film_with_sound, narration, tmp_path / "mixed.mp4", duck="loud")


def test_a_narration_that_is_not_audio_is_a_media_error(film_with_sound, silent_film, tmp_path):
    with pytest.raises(media.MediaError, match="no audio stream"):
        media.mix_narration(film_with_sound, silent_film, tmp_path / "mixed.mp4")
    assert not (tmp_path / "mixed.mp4").exists()


def test_probe_audio_reads_speech(narration):
    info = media.probe_audio(narration)

    assert (info.codec, info.sample_rate, info.channels) == ("mp3", 44100, 1)
    assert info.duration == pytest.approx(2.0, abs=0.1)


def test_loudness_of_silence_is_near_the_floor(silent_film, narration, tmp_path):
    out = tmp_path / "mixed.mp4"
    media.mix_narration(silent_film, narration, out)

    assert media.measure_loudness(out, start=3.0) < -80
    assert media.measure_loudness(narration) > -30


def test_upscale_makes_the_exact_size_and_keeps_length_and_sound(film_with_sound, tmp_path):
    info = media.upscale(film_with_sound, tmp_path / "big.mp4", width=640, height=360)

    assert (info.width, info.height) == (640, 360)
    assert info.duration == pytest.approx(4.0, abs=0.05)
    assert info.has_audio
    assert media.count_video_frames(tmp_path / "big.mp4") == 96


def test_upscale_at_a_higher_frame_rate_repeats_frames(silent_film, tmp_path):
    info = media.upscale(silent_film, tmp_path / "boosted.mp4", width=640, height=360, fps=48)

    assert info.fps == 48
    assert media.count_video_frames(tmp_path / "boosted.mp4") == 192


def test_upscale_refuses_an_odd_size(silent_film, tmp_path):
    with pytest.raises(media.MediaError, match="even"):
        media.upscale(silent_film, tmp_path / "odd.mp4", width=641, height=360)
