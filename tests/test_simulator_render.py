"""The simulator's stand-in clips (generation/simulator/render.py), rendered by the real ffmpeg.

What a client sees of them over HTTP is in tests/test_simulator.py; here, the clip itself: its
first and last frames, its size, frame count and sound, and what it refuses to render.
"""

from pathlib import Path

import pytest
from PIL import Image, ImageOps

from generation import media
from generation.simulator.render import render_clip
from tests.media_checks import mean_difference, picture, stream_end, video_packets

W, H = 320, 180


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("render")


@pytest.fixture(scope="module")
def red(work: Path) -> Path:
    return picture(work / "red.png", (W, H), (190, 40, 40))


@pytest.fixture(scope="module")
def blue(work: Path) -> Path:
    # Square: rendering must crop it to the frame's ratio, not squash it.
    return picture(work / "blue.png", (400, 400), (30, 60, 200))


@pytest.fixture(scope="module")
def silent(work: Path, red: Path, blue: Path) -> Path:
    return render_clip(
        out=work / "silent.mp4",
        width=W,
        height=H,
        duration=2,
        first_image=red,
        last_image=blue,
        text="red to blue",
        with_audio=False,
    )


def test_render_clip_starts_on_the_first_image_and_ends_on_the_last(
    tmp_path: Path, silent: Path, red, blue
) -> None:
    first = media.extract_first_frame(silent, tmp_path / "first.png")
    last = media.extract_last_frame(silent, tmp_path / "last.png")

    with Image.open(red) as r, Image.open(blue) as b, Image.open(first) as f, Image.open(last) as e:
        fitted_blue = ImageOps.fit(b, (W, H))
        assert mean_difference(f, r) < 6
        assert mean_difference(e, fitted_blue) < 6
        # Not a coincidence of similar pictures: each end is far from the other image.
        assert mean_difference(f, fitted_blue) > 40
        assert mean_difference(e, r) > 40


def test_render_clip_gives_the_requested_size_frame_count_and_audio_layout(work: Path) -> None:
    for with_audio in (True, False):
        out = render_clip(
            out=work / f"card-{with_audio}.mp4",
            width=256,
            height=144,
            duration=3,
            fps=25,
            first_image=None,
            last_image=None,
            text="A title card for text to video",
            with_audio=with_audio,
        )
        info = media.probe(out)

        assert (info.width, info.height, info.fps) == (256, 144, 25.0)
        assert info.duration == pytest.approx(3.0, abs=0.05)
        assert len(video_packets(out)) == 75
        assert info.has_audio is with_audio
        if with_audio:
            assert (info.audio_codec, info.audio_sample_rate, info.audio_channels) == ("aac", 48000, 2)
            assert stream_end(out, "a") == pytest.approx(3.0, abs=0.05)


def test_render_clip_refuses_odd_frame_sizes(tmp_path: Path) -> None:
    with pytest.raises(media.MediaError, match="even"):
        render_clip(
            out=tmp_path / "odd.mp4",
            width=321,
            height=180,
            duration=2,
            first_image=None,
            last_image=None,
            text="x",
            with_audio=False,
        )
    assert list(tmp_path.iterdir()) == []


def test_render_clip_refuses_an_unreadable_image(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")

    with pytest.raises(media.MediaError, match=r"broken\.png"):
        render_clip(
            out=tmp_path / "clip.mp4",
            width=W,
            height=H,
            duration=2,
            first_image=broken,
            last_image=None,
            text="x",
            with_audio=False,
        )
    assert not (tmp_path / "clip.mp4").exists()
