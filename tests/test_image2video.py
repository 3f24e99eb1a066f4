"""The old product's command line (runway-product-guide.md examples) against the simulator."""

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from generation import credits, media
from generation.models import LedgerEntry
from projects.models import ReferenceImage, Sequence
from tests.helpers import COLOURS, photo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("runway_with_a_key")]


@pytest.fixture
def images(tmp_path) -> list[Path]:
    paths = []
    for i, colour in enumerate(COLOURS):
        path = tmp_path / f"room{i + 1}.jpg"
        path.write_bytes(photo(colour, i))
        paths.append(path)
    return paths


def run(capsys, *args: str) -> str:
    call_command("image2video", "--backend", "runway", "--yes", *args)
    return capsys.readouterr().out


def test_list_models_shows_ids_default_durations_ratios_and_prices(capsys, db):
    out = run(capsys, "--list-models")
    assert "gen4_turbo (default)" in out
    assert "gen4.5 (guide name: gen4)" in out
    assert "veo3.1_fast" in out
    assert "durations 4, 6, 8 s; 15 credits/s with audio, 10 silent" in out
    assert "1584:672" in out
    assert "veo3 -> veo3.1" in out


def test_text_to_video_on_the_default_gen4_turbo_says_what_would_work(capsys, boss, runway):
    with pytest.raises(CommandError, match=r"gen4\.5.*veo3\.1"):
        run(capsys, "A peaceful mountain landscape at sunrise")
    assert runway.tasks() == []
    assert not LedgerEntry.objects.exists()


def test_text_to_video_on_veo(capsys, boss, runway, tmp_path):
    out = run(
        capsys, "--model", "veo3.1_fast", "--output-dir", str(tmp_path), "Cinematic shot of ocean waves"
    )

    clip = tmp_path / "runway_clip_1.mp4"
    assert f"Wrote {clip}" in out
    assert "Estimate: 90 credits" in out
    info = media.probe(clip)
    assert abs(info.duration - 6) < 0.1
    assert info.has_audio
    (task,) = runway.tasks()
    assert (task["endpoint"], task["model"], task["request"]["duration"]) == (
        "text_to_video",
        "veo3.1_fast",
        6,
    )
    assert credits.month_summary(boss).used == 90


def test_image_to_video_on_gen4_turbo(capsys, boss, runway, images, tmp_path):
    out = run(
        capsys,
        "--model",
        "gen4_turbo",
        "-i",
        str(images[0]),
        "--output-dir",
        str(tmp_path),
        "Slow zoom on the subject",
    )
    assert "Wrote" in out
    info = media.probe(tmp_path / "runway_clip_1.mp4")
    assert abs(info.duration - 5) < 0.1
    assert not info.has_audio
    assert credits.month_summary(boss).used == 25


def test_stitching_with_prompts_and_images_and_the_guides_duration_7(capsys, boss, runway, images, tmp_path):
    out = run(
        capsys,
        "--model",
        "veo3.1_fast",
        "--stitch",
        "--duration",
        "7",
        "-i",
        ",".join(str(p) for p in images),
        "--output-dir",
        str(tmp_path),
        "-p",
        "Start in the foyer, slow pan right revealing the stairs",
        "Dolly into the living room, pan left to the sofas",
        "Continue to the kitchen, show the island",
    )

    assert "Notice:" in out
    # Clip 1 runs from room1 to room2, clip 2 ends on room3: every image is used.
    assert "not used" not in out
    assert "the second is the last frame" not in out
    assert "each clip ends on the next image" in out
    assert all(t["request"]["duration"] == 8 for t in runway.tasks())
    clips = [tmp_path / f"runway_clip_{n}.mp4" for n in (1, 2, 3)]
    assert all(c.exists() for c in clips)
    film = media.probe(tmp_path / "runway_final.mp4")
    assert abs(film.duration - 24) <= 0.3
    sequence = Sequence.objects.get()
    assert sequence.is_stitched
    assert len(runway.tasks()) == 3
    assert credits.month_summary(boss).used == 3 * 8 * 15


def test_the_guides_gen4_with_duration_7_becomes_gen4_5_with_a_notice(capsys, boss, runway, images, tmp_path):
    out = run(
        capsys,
        "--model",
        "gen4",
        "--duration",
        "7",
        "-i",
        str(images[0]),
        "--output-dir",
        str(tmp_path),
        "Prompt",
    )
    assert "Notice: 'gen4' was never a Runway API model id" in out
    (task,) = runway.tasks()
    assert (task["endpoint"], task["model"], task["request"]["duration"]) == ("image_to_video", "gen4.5", 7)
    assert credits.month_summary(boss).used == 7 * 12


def test_a_glob_of_images_and_a_seed_reach_runway(capsys, boss, runway, images, tmp_path):
    run(
        capsys,
        "--model",
        "gen4_turbo",
        "--seed",
        "12345",
        "--duration",
        "2",
        "-i",
        str(images[0].parent / "room*.jpg"),
        "--output-dir",
        str(tmp_path),
        "Reproducible generation",
    )
    (task,) = runway.tasks()
    assert task["request"]["seed"] == 12345


def test_a_square_video_on_veo_is_refused_with_what_would_work(capsys, boss, runway, images):
    with pytest.raises(CommandError, match="960:960"):
        run(
            capsys, "--model", "veo3.1_fast", "--width", "1080", "--height", "1080", "-i", str(images[0]), "P"
        )
    assert runway.tasks() == []


def test_without_enough_credits_nothing_is_sent(capsys, boss, runway, images):
    credits.set_monthly_limit(boss, credits=10)
    with pytest.raises(CommandError, match="needs 40 credits but only 10"):
        run(capsys, "--model", "veo3.1_fast", "--duration", "4", "--no-audio", "-i", str(images[0]), "P")
    assert runway.tasks() == []


def test_it_needs_a_user_when_there_is_no_single_superuser(capsys, runway, images, db):
    with pytest.raises(CommandError, match="--user"):
        run(capsys, "-i", str(images[0]), "Prompt")


def test_a_missing_image_is_a_clear_error(capsys, boss, runway, tmp_path):
    with pytest.raises(CommandError, match="Image not found"):
        run(capsys, "-i", str(tmp_path / "nope.jpg"), "Prompt")


def test_an_image_that_is_not_a_picture_leaves_no_reference_set_or_file(
    capsys, boss, runway, images, tmp_path, settings
):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a picture at all")
    with pytest.raises(CommandError, match="broken.jpg"):
        run(capsys, "-i", f"{images[0]},{broken}", "-p", "One", "-p", "Two")
    assert not ReferenceImage.objects.exists()
    assert not Sequence.objects.exists()
    assert [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()] == []  # nor its files
    assert runway.tasks() == []


def test_the_python_api_stitches_clips(boss, runway, images, tmp_path):
    from generation.api import generate_video_sequence_with_runway_stitching

    clips = generate_video_sequence_with_runway_stitching(
        prompts=["Entrance hall with grand staircase", "Pan left into spacious living room"],
        file_paths_list=[[str(p) for p in images]] * 2,
        width=1280,
        height=720,
        duration_seconds=4,
        model="veo3.1_fast",
        output_dir=tmp_path,
    )
    assert [Path(c).name for c in clips] == ["runway_clip_1.mp4", "runway_clip_2.mp4"]
    assert all(abs(media.probe(c).duration - 4) < 0.1 for c in clips)


def test_a_rejected_clip_stops_the_run_and_says_why(capsys, boss, runway, images, tmp_path):
    with pytest.raises(CommandError) as error:
        run(
            capsys,
            "--stitch",
            "--duration",
            "2",
            "-i",
            ",".join(str(p) for p in images),
            "--output-dir",
            str(tmp_path),
            "-p",
            "The foyer",
            "The forbidden stairs [sim:fail=SAFETY.INPUT.TEXT]",
            "The kitchen",
        )

    assert str(error.value) == (
        "The sequence needs attention: Shot 2 failed: Runway's moderation rejected the prompt. "
        "Reword it and retake the shot. Runway charged 20 credits; 10 returned."
    )
    assert Sequence.objects.get().status == Sequence.Status.NEEDS_ATTENTION
    tasks = runway.tasks()
    assert len(tasks) == 2  # the third clip was never sent
    # Runway keeps the charge of a prompt its moderation refused (SAFETY.INPUT.*).
    assert [task["cost"] for task in tasks] == [10, 10]
    assert not credits.open_holds().exists()
    assert credits.month_summary(boss).used == 20


def veo_clip(capsys, tmp_path, *extra: str) -> str:
    return run(
        capsys, "--model", "veo3.1_fast", "--duration", "4", "--output-dir", str(tmp_path), *extra, "Waves"
    )


def test_an_existing_output_is_refused_before_anything_is_held(capsys, boss, runway, tmp_path):
    mine = tmp_path / "runway_clip_1.mp4"
    mine.write_bytes(b"last week's clip")
    with pytest.raises(CommandError, match=r"runway_clip_1\.mp4 already exists; pass --overwrite"):
        veo_clip(capsys, tmp_path)
    assert mine.read_bytes() == b"last week's clip"
    assert runway.tasks() == []
    assert not LedgerEntry.objects.exists()


def test_an_existing_film_is_refused_before_anything_is_held(capsys, boss, runway, images, tmp_path):
    (tmp_path / "tour.mp4").write_bytes(b"the client's cut")
    with pytest.raises(CommandError, match=r"tour\.mp4 already exists"):
        run(
            capsys,
            "--stitch",
            "-i",
            str(images[0]),
            "--output-dir",
            str(tmp_path),
            "--output",
            "tour.mp4",
            "P",
        )
    assert (tmp_path / "tour.mp4").read_bytes() == b"the client's cut"
    assert not LedgerEntry.objects.exists()


def test_overwrite_replaces_an_existing_output_and_leaves_nothing_else(capsys, boss, runway, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "runway_clip_1.mp4").write_bytes(b"last week's clip")
    veo_clip(capsys, out, "--overwrite")
    assert abs(media.probe(out / "runway_clip_1.mp4").duration - 4) < 0.1
    assert [p.name for p in out.iterdir()] == ["runway_clip_1.mp4"]


def test_a_symlink_in_the_outputs_place_is_refused_and_with_overwrite_replaced_not_followed(
    capsys, boss, runway, tmp_path
):
    precious = tmp_path / "precious.txt"
    precious.write_bytes(b"do not touch")
    link = tmp_path / "out" / "runway_clip_1.mp4"
    link.parent.mkdir()
    link.symlink_to(precious)
    with pytest.raises(CommandError, match="is a symbolic link; pass --overwrite to replace the link itself"):
        veo_clip(capsys, tmp_path / "out")
    assert not LedgerEntry.objects.exists()

    veo_clip(capsys, tmp_path / "out", "--overwrite")

    assert precious.read_bytes() == b"do not touch"
    assert not link.is_symlink()
    assert abs(media.probe(link).duration - 4) < 0.1


def test_a_dangling_symlink_is_refused_too(capsys, boss, runway, tmp_path):
    (tmp_path / "runway_clip_1.mp4").symlink_to(tmp_path / "elsewhere.mp4")
    with pytest.raises(CommandError, match="is a symbolic link"):
        veo_clip(capsys, tmp_path)
    assert not (tmp_path / "elsewhere.mp4").exists()
    assert not LedgerEntry.objects.exists()


def test_write_output_never_writes_through_a_link(tmp_path):
    from generation.jobs import OutputExists, write_output

    target = tmp_path / "target.txt"
    target.write_bytes(b"original")
    link = tmp_path / "clip.mp4"
    link.symlink_to(target)
    with pytest.raises(OutputExists, match="already exists"):
        write_output(io.BytesIO(b"new"), link, overwrite=False)
    write_output(io.BytesIO(b"new"), link, overwrite=True)
    assert target.read_bytes() == b"original"
    assert not link.is_symlink()
    assert link.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "target.txt"]


def test_a_file_whose_name_looks_like_a_pattern_is_used_as_it_is(capsys, boss, runway, tmp_path):
    (tmp_path / "photo[1].jpg").write_bytes(photo(COLOURS[0], 0))
    (tmp_path / "photo1.jpg").write_bytes(photo(COLOURS[1], 1))
    run(
        capsys,
        "--model",
        "gen4_turbo",
        "--duration",
        "2",
        "-i",
        str(tmp_path / "photo[1].jpg"),
        "--output-dir",
        str(tmp_path / "out"),
        "Slow zoom",
    )
    assert list(ReferenceImage.objects.values_list("original_name", flat=True)) == ["photo[1].jpg"]


def test_a_pattern_that_matches_nothing_is_an_error(capsys, boss, runway, tmp_path):
    (tmp_path / "photo1.jpg").write_bytes(photo(COLOURS[1], 1))
    with pytest.raises(CommandError, match=r"No file is named .*photo\[2\]\.jpg.* matches no file"):
        run(capsys, "-i", str(tmp_path / "photo[2].jpg"), "--output-dir", str(tmp_path), "Prompt")
    assert not LedgerEntry.objects.exists()


def test_without_a_terminal_it_needs_yes_before_spending(capsys, boss, runway, images, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    with pytest.raises(CommandError, match="Standard input is not a terminal.*pass --yes"):
        call_command(
            "image2video", "--backend", "runway", "-i", str(images[0]), "--output-dir", str(tmp_path), "Zoom"
        )
    assert runway.tasks() == []
    assert not LedgerEntry.objects.exists()


def test_at_a_terminal_it_asks_before_spending(capsys, boss, runway, images, tmp_path, monkeypatch):
    terminal = io.StringIO()
    terminal.isatty = lambda: True
    monkeypatch.setattr("sys.stdin", terminal)
    monkeypatch.setattr("builtins.input", lambda question: "n")
    with pytest.raises(CommandError, match="Stopped before spending anything"):
        call_command(
            "image2video", "--backend", "runway", "-i", str(images[0]), "--output-dir", str(tmp_path), "Zoom"
        )
    assert runway.tasks() == []
    assert not credits.open_holds().exists()
