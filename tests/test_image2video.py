"""The old product's command line (runway-product-guide.md examples) against the simulator."""

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from generation import credits, media
from generation.models import LedgerEntry
from projects.models import Sequence
from tests.helpers import COLOURS, photo

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fast(settings, runway):
    # The test simulator stands in for Runway "with a key", so the command uses it as it is.
    settings.RUNWAY_SIMULATED = False
    settings.RUNWAY_POLL_INTERVAL = 0.2


@pytest.fixture
def boss(django_user_model):
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "boss-password")
    credits.set_monthly_limit(user, credits=5000)
    return user


@pytest.fixture
def images(tmp_path) -> list[Path]:
    paths = []
    for i, colour in enumerate(COLOURS):
        path = tmp_path / f"room{i + 1}.jpg"
        path.write_bytes(photo(colour, i))
        paths.append(path)
    return paths


def run(capsys, *args: str) -> str:
    call_command("image2video", "--backend", "runway", *args)
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
        "Reword it and retake the shot. Runway charged 10 credits."
    )
    assert Sequence.objects.get().status == Sequence.Status.NEEDS_ATTENTION
    assert len(runway.tasks()) == 2  # the third clip was never sent
    assert not credits.open_holds().exists()
    assert credits.month_summary(boss).used == 10
