"""generation.media against the real ffmpeg binary, on tiny clips made by the simulator's renderer
(its own tests are in tests/test_simulator_render.py).

The tests run ffmpeg directly only as an independent oracle (packet checksums, a full decode of
every frame, loudness) and to make inputs that media never produces (another H.264 profile, sound
that outlasts the picture).
"""

import re
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from generation import media
from generation.simulator.render import render_clip
from tests.media_checks import mean_difference, picture, run_ffmpeg, stream_end, video_packets

W, H = 320, 180


def _max_volume(path: Path, *, start: float, length: float) -> float:
    args = ["-ss", str(start), "-t", str(length), "-i", str(path), "-map", "0:a:0", "-af", "volumedetect"]
    err = run_ffmpeg(*args, "-f", "null", "-").stderr.decode()
    return float(re.search(r"max_volume: (-?[\d.]+|-inf) dB", err).group(1).replace("-inf", "-200"))


def _top_level_boxes(path: Path) -> list[str]:
    boxes = []
    data = path.read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        boxes.append(kind)
        if size == 0:
            break
        offset += size
    return boxes


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def red(work: Path) -> Path:
    return picture(work / "red.png", (W, H), (190, 40, 40))


@pytest.fixture(scope="module")
def blue(work: Path) -> Path:
    # Square: rendering must crop it to the frame's ratio, not squash it.
    return picture(work / "blue.png", (400, 400), (30, 60, 200))


@pytest.fixture(scope="module")
def voiced(work: Path, red: Path) -> Path:
    out = work / "voiced.mp4"
    return render_clip(
        out=out,
        width=W,
        height=H,
        duration=2,
        first_image=red,
        last_image=None,
        text="a voiced clip",
        with_audio=True,
    )


@pytest.fixture(scope="module")
def silent(work: Path, red: Path, blue: Path) -> Path:
    out = work / "silent.mp4"
    return render_clip(
        out=out,
        width=W,
        height=H,
        duration=2,
        first_image=red,
        last_image=blue,
        text="red to blue",
        with_audio=False,
    )


def test_probe_reports_the_streams_of_a_clip_with_sound(voiced: Path) -> None:
    info = media.probe(voiced)

    assert (info.width, info.height, info.fps, info.duration) == (W, H, 24.0, pytest.approx(2.0, abs=0.05))
    assert (info.video_codec, info.pix_fmt) == ("h264", "yuv420p")
    assert (info.audio_codec, info.audio_sample_rate, info.audio_channels) == ("aac", 48000, 2)
    assert info.has_audio


def test_probe_reports_no_audio_for_a_silent_clip(silent: Path) -> None:
    info = media.probe(silent)

    assert info.has_audio is False
    assert (info.audio_codec, info.audio_sample_rate, info.audio_channels) == (None, None, None)


def test_probe_refuses_files_that_are_not_videos(tmp_path: Path, red: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")

    with pytest.raises(media.MediaError, match=r"notes\.mp4"):
        media.probe(text)
    with pytest.raises(media.MediaError, match="not a video"):
        media.probe(red)
    with pytest.raises(media.MediaError, match="does not exist"):
        media.probe(tmp_path / "missing.mp4")


def test_verify_clip_accepts_a_whole_clip(voiced: Path) -> None:
    assert media.verify_clip(voiced, expected_duration=2).width == W


def test_verify_clip_rejects_a_truncated_file(tmp_path: Path, voiced: Path) -> None:
    truncated = tmp_path / "truncated.mp4"
    data = voiced.read_bytes()
    truncated.write_bytes(data[: len(data) * 6 // 10])

    with pytest.raises(media.MediaError, match=r"truncated\.mp4"):
        media.verify_clip(truncated, expected_duration=2)


def test_verify_clip_rejects_the_wrong_duration(voiced: Path) -> None:
    with pytest.raises(media.MediaError, match="expected 4.00 s"):
        media.verify_clip(voiced, expected_duration=4)


def test_extract_last_frame_gives_exactly_the_last_decoded_frame(tmp_path: Path, silent: Path) -> None:
    # The oracle: decode every frame of the clip and keep the last one.
    run_ffmpeg("-i", str(silent), "-fps_mode", "passthrough", str(tmp_path / "frame%04d.png"))
    every_frame = sorted(tmp_path.glob("frame*.png"))

    grabbed = media.extract_last_frame(silent, tmp_path / "last.png")

    assert len(every_frame) == 48
    with (
        Image.open(grabbed) as image,
        Image.open(every_frame[-1]) as last,
        Image.open(every_frame[-2]) as before,
    ):
        assert image.size == (W, H)
        assert mean_difference(image, last) < 0.5
        assert mean_difference(image, before) > mean_difference(image, last)


def test_make_poster_writes_a_jpeg_frame(tmp_path: Path, voiced: Path) -> None:
    poster = media.make_poster(voiced, tmp_path / "posters" / "poster.jpg")

    with Image.open(poster) as image:
        assert (image.format, image.size) == ("JPEG", (W, H))


def test_assemble_joins_matching_clips_by_stream_copy_without_touching_the_video(
    tmp_path: Path, red: Path, blue: Path
) -> None:
    clips = [
        render_clip(
            out=tmp_path / f"shot{index}.mp4",
            width=W,
            height=H,
            duration=duration,
            first_image=image,
            last_image=None,
            text=f"shot {index}",
            with_audio=True,
        )
        for index, (duration, image) in enumerate([(2, red), (3, blue), (2, red)])
    ]

    result = media.assemble(clips, tmp_path / "film.mp4")

    assert result.method == "copy"
    assert result.duration == pytest.approx(7.0, abs=0.3)
    assert media.probe(tmp_path / "film.mp4").duration == result.duration
    assert video_packets(tmp_path / "film.mp4") == [p for clip in clips for p in video_packets(clip)]
    assert _top_level_boxes(tmp_path / "film.mp4").index("moov") < _top_level_boxes(
        tmp_path / "film.mp4"
    ).index("mdat")
    media.verify_clip(tmp_path / "film.mp4", expected_duration=7)


def test_assemble_normalises_mixed_sizes_and_sound_into_one_film(
    tmp_path: Path, red: Path, blue: Path
) -> None:
    shots = [((W, H), True, 2, red), ((180, 320), False, 2, blue), ((256, 144), False, 3, red)]
    clips = [
        render_clip(
            out=tmp_path / f"shot{index}.mp4",
            width=size[0],
            height=size[1],
            duration=duration,
            first_image=image,
            last_image=None,
            text=f"shot {index}",
            with_audio=with_audio,
        )
        for index, (size, with_audio, duration, image) in enumerate(shots)
    ]
    film = tmp_path / "film.mp4"

    result = media.assemble(clips, film)

    info = media.verify_clip(film, expected_duration=7, tolerance=0.3)
    assert result.method == "normalised"
    assert result.duration == pytest.approx(7.0, abs=0.3)
    assert (info.width, info.height, info.fps, info.pix_fmt, info.video_codec) == (
        W,
        H,
        24.0,
        "yuv420p",
        "h264",
    )
    assert (info.audio_codec, info.audio_sample_rate, info.audio_channels) == ("aac", 48000, 2)
    # Sound runs under the whole film: the tone in the first shot, silence after it.
    assert stream_end(film, "a") == pytest.approx(7.0, abs=0.1)
    assert _max_volume(film, start=0.2, length=1.5) > -60
    assert _max_volume(film, start=2.3, length=4.5) < -80
    assert _top_level_boxes(film).index("moov") < _top_level_boxes(film).index("mdat")
    # The portrait shot is scaled to fit and pillarboxed in black, not stretched.
    run_ffmpeg("-ss", "3", "-i", str(film), "-frames:v", "1", str(tmp_path / "portrait.png"))
    with Image.open(tmp_path / "portrait.png") as frame:
        left_bar = frame.convert("L").crop((0, 0, W // 4, H))
        assert ImageStat.Stat(left_bar).mean[0] < 20


def test_assemble_reencodes_clips_whose_codec_headers_differ(tmp_path: Path, voiced: Path) -> None:
    # Same size, rate and layout, but another H.264 profile: one MP4 track cannot carry both.
    other = tmp_path / "baseline.mp4"
    run_ffmpeg(
        "-i", str(voiced), "-map", "0", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "copy", str(other),
    )  # fmt: skip
    assert media.probe(other).width == media.probe(voiced).width

    result = media.assemble([voiced, other], tmp_path / "film.mp4")

    assert result.method == "normalised"
    assert result.duration == pytest.approx(4.0, abs=0.2)


def test_assemble_refuses_an_empty_list_and_unreadable_clips(tmp_path: Path, voiced: Path) -> None:
    with pytest.raises(media.MediaError, match="no clips"):
        media.assemble([], tmp_path / "film.mp4")
    with pytest.raises(media.MediaError, match="missing.mp4"):
        media.assemble([voiced, tmp_path / "missing.mp4"], tmp_path / "film.mp4")
    assert not (tmp_path / "film.mp4").exists()


def test_assembling_twice_gives_the_same_film(tmp_path: Path, voiced: Path) -> None:
    first = media.assemble([voiced, voiced], tmp_path / "film.mp4")
    packets = video_packets(tmp_path / "film.mp4")

    second = media.assemble([voiced, voiced], tmp_path / "film.mp4")

    assert first == second
    assert video_packets(tmp_path / "film.mp4") == packets
    assert [p.name for p in tmp_path.iterdir()] == ["film.mp4"]


def test_extract_last_frame_finds_the_picture_when_the_sound_runs_on(tmp_path: Path, silent: Path) -> None:
    # Sound that outlasts the picture by seconds leaves no video frame near the container's end.
    long_sound = tmp_path / "long-sound.mp4"
    run_ffmpeg(
        "-i", str(silent), "-f", "lavfi", "-i", "sine=duration=5", "-map", "0:v", "-map", "1:a",
        "-c:v", "copy", "-c:a", "aac", str(long_sound),
    )  # fmt: skip
    assert media.probe(long_sound).duration == pytest.approx(5.0, abs=0.1)

    grabbed = media.extract_last_frame(long_sound, tmp_path / "last.png")
    expected = media.extract_last_frame(silent, tmp_path / "expected.png")

    with Image.open(grabbed) as image, Image.open(expected) as reference:
        assert mean_difference(image, reference) == 0


def test_probe_reads_ntsc_rates_colour_tags_and_surround_sound() -> None:
    # What `ffmpeg -i` prints for a camera file, which media never renders itself.
    dump = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'camera.mov':
  Duration: 00:01:02.53, start: 0.000000, bitrate: 9000 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709, progressive), 1920x1080 [SAR 1:1 DAR 16:9], 8000 kb/s, 23.98 fps, 23.98 tbr, 24k tbn (default)
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, 5.1(side), fltp, 384 kb/s (default)
At least one output file must be specified
"""  # noqa: E501
    info = media._parse_input_dump(dump, Path("camera.mov"))

    assert (info.width, info.height, info.pix_fmt, info.video_codec) == (1920, 1080, "yuv420p", "h264")
    assert info.fps == pytest.approx(24000 / 1001, abs=1e-9)
    assert info.duration == pytest.approx(62.53)
    assert (info.audio_codec, info.audio_sample_rate, info.audio_channels) == ("aac", 44100, 6)


def test_write_with_ffmpeg_replaces_the_file_only_when_ffmpeg_succeeds(tmp_path: Path, voiced: Path) -> None:
    out = tmp_path / "frame.png"
    out.write_bytes(b"before")

    with pytest.raises(media.MediaError, match="grabbing a frame"):
        media.write_with_ffmpeg(
            out,
            lambda tmp: ["-y", "-i", str(tmp_path / "missing.mp4"), str(tmp)],
            timeout=30,
            what="grabbing a frame",
        )
    assert out.read_bytes() == b"before"

    media.write_with_ffmpeg(
        out,
        lambda tmp: ["-y", "-i", str(voiced), "-frames:v", "1", str(tmp)],
        timeout=30,
        what="grabbing a frame",
    )
    with Image.open(out) as image:
        assert image.size == (W, H)
    assert [p.name for p in tmp_path.iterdir()] == ["frame.png"]
